package audit

import (
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Mutating reports whether a method is recorded. Reads are listed and
// everything else counts as mutating, so a new RPC is recorded until
// someone decides it only reads. Usage reports are left out: every node
// sends one every few seconds and they are kept only in memory.
func Mutating(method string) bool {
	switch method {
	case skiffv1.Objects_Get_FullMethodName, skiffv1.Objects_List_FullMethodName, skiffv1.Objects_Watch_FullMethodName,
		skiffv1.Usage_Get_FullMethodName, skiffv1.Usage_Report_FullMethodName,
		skiffv1.PodIO_Logs_FullMethodName,
		"/skiff.v1.Tokens/List":
		return false
	}
	return !strings.HasPrefix(method, "/grpc.health.v1.") && !strings.HasPrefix(method, "/grpc.reflection.")
}
