package audit

import (
	"slices"
	"sort"
	"time"
)

// indexKeep is how long a create intent stays in the index's window after
// the newest record: longer than ReserveWindow, so that a clock that moved
// back a little, or a result written late, still finds it.
const indexKeep = 2 * ReserveWindow

// intentEntry is an allowed create intent, as quotas and provenance need it.
type intentEntry struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Caller     string    `json:"caller,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Permission string    `json:"permission,omitempty"`
	// Freed is set when a create_result recorded a definite failure.
	Freed bool `json:"freed,omitempty"`
}

// mintEntry is a Mint as the index snapshot stores it.
type mintEntry struct {
	Caller     string    `json:"caller,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Permission string    `json:"permission,omitempty"`
	At         time.Time `json:"at"`
}

// index is what quotas and provenance need of the records verified so far.
// Its size grows with the number of keys minted and of creates in the last
// two days, not with the number of records; each lookup costs the same
// however long the log is.
type index struct {
	// window holds the allowed create intents of the last indexKeep, in
	// Seq order.
	window []intentEntry
	// minted maps the key ids recorded as created to their provenance.
	minted map[string]mintEntry
	// newest is the time of the newest record.
	newest time.Time
}

func newIndex() index { return index{minted: make(map[string]mintEntry)} }

// tagsOf returns a record's tags: Tags, or Tag alone.
func tagsOf(r Record) []string {
	if len(r.Tags) > 0 {
		return slices.Clone(r.Tags)
	}
	if r.Tag != "" {
		return []string{r.Tag}
	}
	return nil
}

// countsAgainstQuota reports whether r is a create intent that counts.
func countsAgainstQuota(r Record) bool {
	return r.Event == EventCreate && r.Phase == PhaseIntent && r.Decision == DecisionAllowed
}

// freesQuota reports whether r is a result that frees its intent's slot.
func freesQuota(r Record) bool {
	return r.Event == EventCreateResult && r.Ref > 0 && (r.Outcome == OutcomeFailed || r.Decision == DecisionDenied)
}

// find returns the window's intent with seq, or nil.
func (ix *index) find(seq int64) *intentEntry {
	i := sort.Search(len(ix.window), func(i int) bool { return ix.window[i].Seq >= seq })
	if i < len(ix.window) && ix.window[i].Seq == seq {
		return &ix.window[i]
	}
	return nil
}

// apply adds a verified record, the next in the log.
func (ix *index) apply(r Record) {
	if r.Time.After(ix.newest) {
		ix.newest = r.Time
	}
	switch {
	case countsAgainstQuota(r):
		ix.window = append(ix.window, intentEntry{Seq: r.Seq, Time: r.Time, Caller: r.Caller, Tags: tagsOf(r), Permission: r.Permission})
	case freesQuota(r):
		if e := ix.find(r.Ref); e != nil {
			e.Freed = true
		}
	}
	if r.Event == EventCreateResult && r.Outcome == OutcomeCreated && r.KeyID != "" {
		m := mintEntry{Caller: r.Caller, Tags: tagsOf(r), Permission: r.Permission, At: r.Time}
		if e := ix.find(r.Ref); e != nil { // what the result leaves out, its intent says
			if m.Caller == "" {
				m.Caller = e.Caller
			}
			if m.Tags == nil {
				m.Tags = slices.Clone(e.Tags)
			}
			if m.Permission == "" {
				m.Permission = e.Permission
			}
		}
		ix.minted[r.KeyID] = m
	}
	ix.prune()
}

// prune drops the intents older than indexKeep before the newest record.
func (ix *index) prune() {
	cut := ix.newest.Add(-indexKeep)
	i := 0
	for i < len(ix.window) && ix.window[i].Time.Before(cut) {
		i++
	}
	if i == 0 {
		return
	}
	if i > len(ix.window)/2 { // copy, so that the dropped ones can be freed
		ix.window = append([]intentEntry(nil), ix.window[i:]...)
		return
	}
	ix.window = ix.window[i:]
}

// counts returns the create counts at now, globally and for caller.
func (ix *index) counts(caller string, now time.Time) QuotaCounts {
	var q QuotaCounts
	for i := range ix.window {
		e := &ix.window[i]
		if e.Freed {
			continue
		}
		q.Global.add(e.Time, now)
		if e.Caller == caller {
			q.Caller.add(e.Time, now)
		}
	}
	return q
}

// mints returns the provenance of those of ids that were minted.
func (ix *index) mints(ids []string) map[string]Mint {
	out := make(map[string]Mint)
	for _, id := range ids {
		if m, ok := ix.minted[id]; ok && id != "" {
			out[id] = Mint{Caller: m.Caller, Tags: slices.Clone(m.Tags), Permission: m.Permission, At: m.At}
		}
	}
	return out
}
