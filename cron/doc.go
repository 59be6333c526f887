// Package cron reads five-field cron schedules ("*/15 9-17 * * MON-FRI",
// "@daily") as Kubernetes' CronJobs take them, and finds the times they
// fire in a time zone. It embeds Go's time zone database, so a zone named
// in a CronJob resolves on a machine without /usr/share/zoneinfo.
package cron
