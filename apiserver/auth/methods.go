package auth

import (
	"strings"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Methods of the join service the lead adds to the proto (skiff.v1.Join).
// The rules key on these names, so they are closed until that service
// exists and open exactly as written here once it does.
const (
	// MethodJoinSignNode signs a joining agent's CSR; the only method a
	// join token (Bootstrap) may call.
	MethodJoinSignNode = "/skiff.v1.Join/SignNode"
	// MethodJoinRenewNode signs a new CSR for a node that still holds a
	// valid certificate; the node's identity comes from that certificate.
	MethodJoinRenewNode = "/skiff.v1.Join/RenewNode"
)

// isHealth: health checks are open to every authenticated caller.
func isHealth(method string) bool {
	return method == healthpb.Health_Check_FullMethodName || method == healthpb.Health_Watch_FullMethodName
}

// objectReads are the Objects methods that only read.
func isObjectRead(method string) bool {
	switch method {
	case skiffv1.Objects_Get_FullMethodName, skiffv1.Objects_List_FullMethodName, skiffv1.Objects_Watch_FullMethodName:
		return true
	}
	return false
}

func isObjectsMethod(method string) bool {
	return strings.HasPrefix(method, "/"+skiffv1.Objects_ServiceDesc.ServiceName+"/")
}

// verb is how a message names what was refused.
func verb(method string) string {
	switch method {
	case skiffv1.Objects_UpdateStatus_FullMethodName:
		return "update"
	case skiffv1.Usage_Report_FullMethodName:
		return "report usage for"
	case skiffv1.Usage_Get_FullMethodName:
		return "read usage of"
	case skiffv1.PodIO_Logs_FullMethodName:
		return "read the logs of"
	case skiffv1.PodIO_Exec_FullMethodName:
		return "exec in"
	case skiffv1.PodIO_Attach_FullMethodName:
		return "attach to"
	case skiffv1.PodIO_PortForward_FullMethodName:
		return "port-forward to"
	}
	if isObjectsMethod(method) {
		return strings.ToLower(method[strings.LastIndex(method, "/")+1:])
	}
	return "call"
}
