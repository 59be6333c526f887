package validation

import (
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// subdomainNamed reports whether objects of the kind are named by DNS
// subdomains (dots allowed, up to 253 characters); the others by labels.
func subdomainNamed(info skiffv1.KindInfo) bool {
	switch info.Kind {
	case skiffv1.Kind_KIND_NODE, skiffv1.Kind_KIND_EVENT, skiffv1.Kind_KIND_CONFIG_MAP, skiffv1.Kind_KIND_SECRET, skiffv1.Kind_KIND_LEASE:
		return true
	}
	return false
}

// MaxNameLength is the longest name an object of the kind may have.
func MaxNameLength(info skiffv1.KindInfo) int {
	if subdomainNamed(info) {
		return 253
	}
	return 63
}

// GeneratedSuffixLength is how many random characters a generated name
// adds to its prefix.
const GeneratedSuffixLength = 5

// GenerateName checks a metadata.generateName: with random characters
// after it (the prefix cut to leave them room) it must make a valid name.
func GenerateName(prefix string, info skiffv1.KindInfo) error {
	e := &errs{}
	if max := MaxNameLength(info) - GeneratedSuffixLength; len(prefix) > max {
		prefix = prefix[:max]
	}
	name := prefix + "bbbbb"
	valid := dns1123Label.MatchString(name)
	if subdomainNamed(info) {
		valid = dns1123Subdomain.MatchString(name)
	}
	if !valid {
		e.add("metadata.generateName", "%q cannot begin a name: lower-case letters, digits and '-', starting with a letter or digit", prefix)
	}
	return e.err()
}
