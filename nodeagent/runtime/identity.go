package runtime

import (
	"strconv"
	"strings"
)

// idSeparator joins the parts of the IDs ContainerID makes; checkID
// allows it and a sandbox ID or container name never holds it.
const idSeparator = "."

// ContainerID is the ID of run attempt of the container name in a sandbox:
// "<sandbox>.<name>.<attempt>". The format is the runtime's alone: it
// keeps a sandbox's containers together on disk (ListSandbox reads only
// theirs), and callers learn a container's identity from its State
// (SandboxID, Name, Attempt), never by parsing the ID.
func ContainerID(sandboxID, name string, attempt int) string {
	return sandboxID + idSeparator + name + idSeparator + strconv.Itoa(attempt)
}

// identityFromID recovers the name and attempt from an ID made by
// ContainerID, for containers created before the spec carried them.
// Anything else has no name.
func identityFromID(id, sandboxID string) (name string, attempt int) {
	rest, ok := strings.CutPrefix(id, sandboxID+idSeparator)
	if !ok || sandboxID == "" {
		return "", 0
	}
	name, n, ok := strings.Cut(rest, idSeparator)
	attempt, err := strconv.Atoi(n)
	if !ok || err != nil || attempt < 0 || name == "" {
		return "", 0
	}
	return name, attempt
}
