package controller

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func testPV(name, class, size string, modes ...string) *skiffv1.PersistentVolume {
	return &skiffv1.PersistentVolume{
		Metadata: &skiffv1.ObjectMeta{Name: name},
		Spec: &skiffv1.PersistentVolumeSpec{
			Capacity: map[string]string{"storage": size}, AccessModes: modes, StorageClassName: class,
			HostPath: &skiffv1.HostPathSource{Path: "/data/" + name},
		},
		Status: &skiffv1.PersistentVolumeStatus{Phase: skiffv1.VolumeAvailable},
	}
}

func testClaim(class *string, size, mode string) *skiffv1.Volume {
	return &skiffv1.Volume{
		Metadata: &skiffv1.ObjectMeta{Name: "c", Namespace: "ns", Uid: "u1"},
		Spec:     &skiffv1.VolumeSpec{StorageClassName: class, Capacity: size, AccessMode: mode},
	}
}

func str(s string) *string { return &s }

func TestMatchVolumePicksSmallestFitting(t *testing.T) {
	pvs := []*skiffv1.PersistentVolume{
		testPV("big", "manual", "10Gi", "ReadWriteOnce"),
		testPV("small", "manual", "1Gi", "ReadWriteOnce"),
		testPV("mid-b", "manual", "5Gi", "ReadWriteOnce", "ReadWriteMany"),
		testPV("mid-a", "manual", "5Gi", "ReadWriteOnce"),
		testPV("other-class", "fast", "3Gi", "ReadWriteOnce"),
		testPV("no-class", "", "3Gi", "ReadWriteOnce"),
	}
	for _, tc := range []struct {
		name  string
		claim *skiffv1.Volume
		want  string
	}{
		{"smallest that holds the request", testClaim(str("manual"), "3Gi", ""), "mid-a"},
		{"exact size", testClaim(str("manual"), "1Gi", "ReadWriteOnce"), "small"},
		{"access mode narrows", testClaim(str("manual"), "1Gi", "ReadWriteMany"), "mid-b"},
		{"too big for all", testClaim(str("manual"), "11Gi", ""), ""},
		{"class must match", testClaim(str("fast"), "1Gi", ""), "other-class"},
		{"empty class matches only empty", testClaim(str(""), "1Gi", ""), "no-class"},
		{"unknown class", testClaim(str("gold"), "1Gi", ""), ""},
		{"1000Mi fits 1Gi", testClaim(str("manual"), "1000Mi", ""), "small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := matchVolume(tc.claim, pvs)
			if got.GetMetadata().GetName() != tc.want {
				t.Errorf("matchVolume = %q, want %q", got.GetMetadata().GetName(), tc.want)
			}
		})
	}
}

func TestMatchVolumeSkipsTakenAndHonoursReservations(t *testing.T) {
	taken := testPV("taken", "manual", "1Gi", "ReadWriteOnce")
	taken.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "ns", Name: "other", Uid: "u9"}
	released := testPV("released", "manual", "1Gi", "ReadWriteOnce")
	released.Status.Phase = skiffv1.VolumeReleased
	reserved := testPV("reserved", "manual", "8Gi", "ReadWriteOnce")
	reserved.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "ns", Name: "c"} // by name, no uid yet
	free := testPV("free", "manual", "2Gi", "ReadWriteOnce")
	claim := testClaim(str("manual"), "1Gi", "")

	if got := matchVolume(claim, []*skiffv1.PersistentVolume{taken, released, free}); got != free {
		t.Errorf("with a taken and a released volume: got %v, want free", got.GetMetadata().GetName())
	}
	if got := matchVolume(claim, []*skiffv1.PersistentVolume{free, reserved}); got != reserved {
		t.Errorf("a volume reserved for the claim must win over a smaller free one; got %v", got.GetMetadata().GetName())
	}
	other := testClaim(str("manual"), "1Gi", "")
	other.Metadata.Name = "someone-else"
	if got := matchVolume(other, []*skiffv1.PersistentVolume{reserved}); got != nil {
		t.Errorf("a volume reserved for claim c went to %s", other.Metadata.Name)
	}
	recreated := testClaim(str("manual"), "1Gi", "")
	recreated.Metadata.Uid = "u2"
	taken.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "ns", Name: "c", Uid: "u1"}
	if got := matchVolume(recreated, []*skiffv1.PersistentVolume{taken}); got != nil {
		t.Error("a claim made again under the same name took its predecessor's volume")
	}

	named := testClaim(str("manual"), "1Gi", "")
	named.Spec.VolumeName = "free"
	if got := matchVolume(named, []*skiffv1.PersistentVolume{testPV("smaller", "manual", "1Gi", "ReadWriteOnce"), free}); got != free {
		t.Errorf("spec.volumeName must choose the volume; got %v", got.GetMetadata().GetName())
	}
	named.Spec.VolumeName = "taken"
	taken.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "ns", Name: "other", Uid: "u9"}
	if got := matchVolume(named, []*skiffv1.PersistentVolume{taken, free}); got != nil {
		t.Errorf("a claim naming a volume bound elsewhere must wait, got %v", got.GetMetadata().GetName())
	}
	deleting := testPV("deleting", "manual", "1Gi", "ReadWriteOnce")
	deleting.Metadata.DeletionTimestamp = timestamppb.Now()
	if got := matchVolume(claim, []*skiffv1.PersistentVolume{deleting}); got != nil {
		t.Error("a volume being deleted was matched")
	}
}
