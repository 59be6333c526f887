package skiffv1

import (
	"embed"
	"io/fs"
)

//go:embed *.proto
var protoSources embed.FS

// ProtoSources is the .proto files these types were generated from, kept
// in the binary for their comments (skiff explain).
func ProtoSources() fs.FS { return protoSources }
