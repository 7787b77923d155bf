package healing

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// incidentPrefix is where incidents are stored, keyed by their ULID so
// that key order is time order.
const incidentPrefix = store.SpaceHealth + "incident/"

// Incident statuses.
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"
)

// Incident is one unhealthy period of a check and the healing tried.
type Incident struct {
	ID        string `json:"id"`
	Check     string `json:"check"`
	Kind      string `json:"kind"`
	Component string `json:"component,omitempty"`
	// Status is open or resolved.
	Status string `json:"status"`
	// Outcome, once resolved: healed (a strategy's action was followed by
	// the check passing) or recovered (it passed without one).
	Outcome string `json:"outcome,omitempty"`
	Message string `json:"message"`
	// Failures is the number of failures in a row that opened it.
	Failures   int       `json:"failures"`
	Opened     time.Time `json:"opened"`
	Closed     time.Time `json:"closed,omitzero"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Attempts   []Attempt `json:"attempts"`
	// Exhausted says why healing stopped, while it waits for the slow
	// retry.
	Exhausted string `json:"exhausted,omitempty"`
	// Retries counts slow retries of the chain.
	Retries int `json:"retries,omitempty"`
}

// Attempt is one healing action.
type Attempt struct {
	Strategy   string         `json:"strategy"`
	Attempt    int            `json:"attempt"`
	Started    time.Time      `json:"started"`
	DurationMS int64          `json:"duration_ms"`
	Outcome    string         `json:"outcome"`
	Message    string         `json:"message,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
}

func (inc *Incident) pending() *Attempt {
	if n := len(inc.Attempts); n > 0 && inc.Attempts[n-1].Outcome == OutcomePending {
		return &inc.Attempts[n-1]
	}
	return nil
}

func (inc *Incident) clone() Incident {
	c := *inc
	c.Attempts = make([]Attempt, len(inc.Attempts))
	for i, a := range inc.Attempts {
		a.Details = maps.Clone(a.Details)
		c.Attempts[i] = a
	}
	return c
}

// persist writes the incident through the single write path.
func (e *Engine) persist(ctx context.Context, inc Incident) {
	if e.opts.Store == nil || inc.ID == "" {
		return
	}
	b, err := store.Encode(inc)
	if err == nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = e.opts.Store.Apply(pctx, store.Put(incidentPrefix+inc.ID, b))
		cancel()
	}
	if err != nil {
		e.opts.Logger.Error("incident not stored", "incident", inc.ID, "check", inc.Check, "err", err)
	}
}

// Incidents lists incidents newest first: limit per page, cursor the id of
// the last one of the previous page. It returns the next cursor ("" at the
// end). check filters by check name when set.
func (e *Engine) Incidents(ctx context.Context, limit int, cursor, check string) ([]Incident, string, error) {
	if e.opts.Store == nil {
		return nil, "", nil
	}
	if limit <= 0 {
		limit = 50
	}
	o := store.ScanOptions{Prefix: incidentPrefix, Reverse: true}
	if cursor != "" {
		o.After = incidentPrefix + cursor
	}
	var out []Incident
	var next string
	err := e.opts.Store.Scan(o, func(_ string, v []byte) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var inc Incident
		if err := store.Decode(v, &inc); err != nil {
			return true, nil
		}
		if check != "" && inc.Check != check {
			return true, nil
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			return false, nil
		}
		out = append(out, inc)
		return true, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("healing: incidents: %w", err)
	}
	return out, next, nil
}

// Incident returns one incident.
func (e *Engine) Incident(id string) (Incident, error) {
	var inc Incident
	if e.opts.Store == nil {
		return inc, fmt.Errorf("healing: incident %s: %w", id, ErrNotFound)
	}
	b, err := e.opts.Store.Get(incidentPrefix + id)
	if err != nil {
		return inc, fmt.Errorf("healing: incident %s: %w", id, ErrNotFound)
	}
	err = store.Decode(b, &inc)
	return inc, err
}
