package audit

import "time"

// Entry is one audit line.
type Entry struct {
	Time       time.Time `json:"time"`
	User       string    `json:"user"`
	Groups     []string  `json:"groups,omitempty"`
	Peer       string    `json:"peer,omitempty"`
	Method     string    `json:"method"`
	Kind       string    `json:"kind,omitempty"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name,omitempty"`
	DryRun     bool      `json:"dryRun,omitempty"` // checked and answered, nothing stored
	Code       string    `json:"code"`
	Message    string    `json:"message,omitempty"`
	DurationMS float64   `json:"durationMs"`
}
