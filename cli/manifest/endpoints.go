package manifest

import "fmt"

// A v1 Endpoints lists a service's pods as subsets: addresses (ready) and
// notReadyAddresses sharing one list of ports. skiff holds the same as
// EndpointSlice-like slices whose endpoints carry conditions, so a subset
// is a slice and an address an endpoint whose ready (and serving)
// condition says which list it was in. Terminating is not in v1 Endpoints:
// a terminating endpoint prints among notReadyAddresses.

func endpointsToSkiff(o map[string]any) error {
	subsets := list(o, "subsets")
	if subsets == nil {
		return nil // absent, or not a list: the schema walk names it
	}
	slices := make([]any, 0, len(subsets))
	for i, s := range subsets {
		sub, ok := s.(map[string]any)
		if !ok {
			return fmt.Errorf("subsets[%d]: a mapping (addresses, notReadyAddresses, ports), not %s", i, quoteAny(s))
		}
		var eps []any
		for _, l := range []struct {
			key   string
			ready bool
		}{{"addresses", true}, {"notReadyAddresses", false}} {
			for j, a := range list(sub, l.key) {
				addr, ok := a.(map[string]any)
				if !ok {
					return fmt.Errorf("subsets[%d].%s[%d]: a mapping (ip, nodeName, targetRef), not %s", i, l.key, j, quoteAny(a))
				}
				for k := range addr {
					switch k {
					case "ip", "nodeName", "targetRef":
					case "hostname":
						return fmt.Errorf("subsets[%d].%s[%d].hostname is not supported by skiff yet", i, l.key, j)
					default:
						return unknownField(k, fmt.Sprintf("subsets[%d].%s[%d]", i, l.key, j), []string{"ip", "nodeName", "targetRef"})
					}
				}
				ep := map[string]any{"conditions": map[string]any{"ready": l.ready, "serving": l.ready}}
				ip, ok := addr["ip"]
				if !ok {
					return fmt.Errorf("subsets[%d].%s[%d].ip: required", i, l.key, j)
				}
				ep["addresses"] = []any{ip}
				setIf(ep, "nodeName", addr["nodeName"])
				setIf(ep, "targetRef", addr["targetRef"])
				eps = append(eps, ep)
			}
		}
		for k := range sub {
			if k != "addresses" && k != "notReadyAddresses" && k != "ports" {
				return unknownField(k, fmt.Sprintf("subsets[%d]", i), []string{"addresses", "notReadyAddresses", "ports"})
			}
		}
		slice := map[string]any{}
		setList(slice, "endpoints", eps)
		setIf(slice, "ports", sub["ports"])
		slices = append(slices, slice)
	}
	delete(o, "subsets")
	o["slices"] = slices
	return nil
}

func endpointsFromSkiff(o map[string]any) {
	slices := list(o, "slices")
	if slices == nil {
		return
	}
	subsets := make([]any, 0, len(slices))
	for _, s := range slices {
		slice, _ := s.(map[string]any)
		var ready, notReady []any
		for _, e := range list(slice, "endpoints") {
			ep, _ := e.(map[string]any)
			for _, ip := range list(ep, "addresses") {
				addr := map[string]any{"ip": ip}
				setIf(addr, "nodeName", ep["nodeName"])
				setIf(addr, "targetRef", ep["targetRef"])
				if r, _ := child(ep, "conditions")["ready"].(bool); r {
					ready = append(ready, addr)
				} else {
					notReady = append(notReady, addr)
				}
			}
		}
		sub := map[string]any{}
		setList(sub, "addresses", ready)
		setList(sub, "notReadyAddresses", notReady)
		setIf(sub, "ports", slice["ports"])
		subsets = append(subsets, sub)
	}
	delete(o, "slices")
	o["subsets"] = subsets
}

// setList sets m[key] to a non-empty list.
func setList(m map[string]any, key string, l []any) {
	if len(l) > 0 {
		m[key] = l
	}
}
