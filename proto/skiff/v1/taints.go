package skiffv1

// ToleratesTaint follows Kubernetes: an empty effect matches every effect;
// an empty key with Exists matches every taint; Equal (the default)
// compares the value, Exists does not. The scheduler and the node
// lifecycle controller both decide by it.
func (tol *Toleration) ToleratesTaint(t *Taint) bool {
	if tol.GetEffect() != "" && tol.GetEffect() != t.GetEffect() {
		return false
	}
	switch tol.GetOperator() {
	case "Exists":
		return tol.GetKey() == "" || tol.GetKey() == t.GetKey()
	case "", "Equal":
		return tol.GetKey() == t.GetKey() && tol.GetValue() == t.GetValue()
	}
	return false
}
