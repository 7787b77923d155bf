package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron expression as policies accept it: five fields
// (minute hour day-of-month month day-of-week), six with leading seconds, or
// a descriptor (@hourly, @daily, @weekly, @monthly, @yearly, @every 10m).
// The schedule runs in timezone (an IANA name; "" means UTC).
func ParseSchedule(spec, timezone string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty cron expression")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("cron %q: set the time zone with the timezone attribute, not in the expression", spec)
	}
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", timezone)
		}
		loc = l
	}
	if strings.HasPrefix(spec, "@every") {
		// Accept the policy duration syntax ("7d") in @every as well.
		arg := strings.TrimSpace(strings.TrimPrefix(spec, "@every"))
		d, err := ParseDuration(arg)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %v", spec, err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("cron %q: interval must be at least 1s", spec)
		}
		return cron.Every(d), nil
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %v", spec, err)
	}
	if s, ok := sched.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	return sched, nil
}
