package apiserver

// PrepareCreate is what Create does to an object before storing it, for
// the fuzz test.
var PrepareCreate = prepareCreate
