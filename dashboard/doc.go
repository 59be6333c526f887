// Package dashboard is the web dashboard `skiff server` serves on its own
// HTTPS address: a page of plain HTML, CSS and JavaScript embedded in the
// binary (assets/), a JSON API over a cache of the cluster's objects, and
// server-sent events that tell the page what changed, fed by the cache's
// watches (no polling of the API server).
//
// Nothing but the login page and its script is served without a session.
// A session starts from a one-time login token (`skiff dashboard` makes
// one through the Tokens service: usage "dashboard" acts as the admin,
// "dashboard-view" as the read-only Viewer) and lives in an HttpOnly,
// SameSite=Strict cookie; every write also needs the session's CSRF token
// in a header and a same-origin Origin. Reads come from the cache, which
// reads as the Viewer; writes go to the API server as the session's
// identity (grouped pki.DashboardGroup), so the API server authorizes and
// audits them as it does the CLI's.
package dashboard
