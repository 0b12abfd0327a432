package engine

import "strings"

// Prior is what the engine remembers of a lineage.
type Prior struct {
	Stage       int     `json:"stage"`
	Band        int     `json:"band"`
	Score       float64 `json:"score"`
	Fingerprint uint64  `json:"fingerprint"`
	HostFirst   bool    `json:"host_first,omitempty"`
	FleetFirst  bool    `json:"fleet_first,omitempty"`
	Alerted     bool    `json:"alerted,omitempty"`
	AlertStage  int     `json:"alert_stage"`
	AlertBand   int     `json:"alert_band"`
	Seen        int64   `json:"seen"` // unix time of the latest row
}

// PairKey is a parent+compiler pair seen on a host ("" host: fleet-wide).
type PairKey struct {
	Host, Parent, Compiler string
}

// State is the engine's dedup and rarity memory. It grows with hosts and
// lineages, not with lines. Changes since the last Drain are tracked so a
// store can persist them together with input offsets.
type State struct {
	lineages map[string]Prior
	pairs    map[PairKey]struct{}
	hosts    map[string]HostRisk

	track         bool
	dirtyLineages map[string]struct{}
	dirtyPairs    []PairKey
	deleted       []string
	dirtyHosts    map[string]struct{}
	deletedHosts  []string
	exceptionHits map[string]int64 // since the last Drain
	exceptionAll  map[string]int64 // this process's total
}

// HitException counts a lineage evaluation an exception matched.
func (s *State) HitException(id string) {
	if s.exceptionHits == nil {
		s.exceptionHits, s.exceptionAll = map[string]int64{}, map[string]int64{}
	}
	s.exceptionHits[id]++
	s.exceptionAll[id]++
}

// ExceptionHits returns how often each exception matched in this process.
func (s *State) ExceptionHits() map[string]int64 {
	out := make(map[string]int64, len(s.exceptionAll))
	for k, v := range s.exceptionAll {
		out[k] = v
	}
	return out
}

// NewState returns an empty state. With track set, changes are remembered
// until Drain (for a persistent store).
func NewState(track bool) *State {
	return &State{
		track:         track,
		lineages:      map[string]Prior{},
		pairs:         map[PairKey]struct{}{},
		hosts:         map[string]HostRisk{},
		dirtyLineages: map[string]struct{}{},
		dirtyHosts:    map[string]struct{}{},
	}
}

// HostRisk returns what is known of a host's risk.
func (s *State) HostRisk(host string) (HostRisk, bool) {
	h, ok := s.hosts[host]
	return h, ok
}

// SetHostRisk records a host's risk.
func (s *State) SetHostRisk(host string, h HostRisk) {
	s.hosts[host] = h
	if s.track {
		s.dirtyHosts[host] = struct{}{}
	}
}

// LoadHostRisk adds persisted host risk without marking it dirty.
func (s *State) LoadHostRisk(hosts map[string]HostRisk) {
	for k, v := range hosts {
		s.hosts[k] = v
	}
}

// pruneHosts forgets hosts whose newest counted lineage is before the unix
// time before.
func (s *State) pruneHosts(before int64) {
	for k, h := range s.hosts {
		newest := int64(0)
		for _, e := range h.Entries {
			newest = max(newest, e.Time)
		}
		if newest < before {
			delete(s.hosts, k)
			if s.track {
				delete(s.dirtyHosts, k)
				s.deletedHosts = append(s.deletedHosts, k)
			}
		}
	}
}

// Lineage returns what is known of a lineage.
func (s *State) Lineage(id string) (Prior, bool) {
	p, ok := s.lineages[id]
	return p, ok
}

// SetLineage records a lineage. A new id is copied, so the state does not
// keep the row it came from alive.
func (s *State) SetLineage(id string, p Prior) {
	_, known := s.lineages[id]
	s.setLineage(id, p, known)
}

// setLineage is SetLineage for a caller that knows whether id is held.
func (s *State) setLineage(id string, p Prior, known bool) {
	if !known {
		id = strings.Clone(id)
	}
	s.lineages[id] = p
	if s.track {
		s.dirtyLineages[id] = struct{}{}
	}
}

// SeePair marks a parent+compiler pair as seen on host and fleet-wide and
// reports whether each was new.
func (s *State) SeePair(host, parent, compiler string) (hostFirst, fleetFirst bool) {
	hk := PairKey{Host: host, Parent: parent, Compiler: compiler}
	fk := PairKey{Parent: parent, Compiler: compiler}
	if _, ok := s.pairs[hk]; !ok {
		hostFirst = true
		// Copies: the state must not keep the row's buffer alive.
		parent, compiler = strings.Clone(parent), strings.Clone(compiler)
		hk = PairKey{Host: strings.Clone(host), Parent: parent, Compiler: compiler}
		fk = PairKey{Parent: parent, Compiler: compiler}
		s.pairs[hk] = struct{}{}
		if s.track {
			s.dirtyPairs = append(s.dirtyPairs, hk)
		}
	}
	if _, ok := s.pairs[fk]; !ok {
		fleetFirst = true
		s.pairs[fk] = struct{}{}
		if s.track {
			s.dirtyPairs = append(s.dirtyPairs, fk)
		}
	}
	return hostFirst, fleetFirst
}

// Load adds persisted entries without marking them dirty.
func (s *State) Load(lineages map[string]Prior, pairs []PairKey) {
	for k, v := range lineages {
		s.lineages[k] = v
	}
	for _, p := range pairs {
		s.pairs[p] = struct{}{}
	}
}

// Prune forgets lineages last seen before the unix time before and returns
// how many it dropped. A pruned lineage reported again alerts again.
func (s *State) Prune(before int64) int {
	n := 0
	for id, p := range s.lineages {
		if p.Seen < before {
			delete(s.lineages, id)
			n++
			if s.track {
				delete(s.dirtyLineages, id)
				s.deleted = append(s.deleted, id)
			}
		}
	}
	return n
}

// Changes are the entries changed since the last Drain.
type Changes struct {
	Lineages map[string]Prior
	Pairs    []PairKey
	Deleted  []string // lineages pruned
	// ExceptionHits counts exception matches since the last Drain, by id
	// ("ID (expired)" for an expired exception that matched).
	ExceptionHits map[string]int64
	Hosts         map[string]HostRisk // host risk changed
	DeletedHosts  []string            // host risk pruned
}

// Drain returns and clears the changes.
func (s *State) Drain() Changes {
	c := Changes{Lineages: make(map[string]Prior, len(s.dirtyLineages)), Pairs: s.dirtyPairs, Deleted: s.deleted, ExceptionHits: s.exceptionHits}
	s.exceptionHits = nil
	if s.exceptionAll != nil {
		s.exceptionHits = map[string]int64{}
	}
	for id := range s.dirtyLineages {
		c.Lineages[id] = s.lineages[id]
	}
	clear(s.dirtyLineages)
	c.Hosts = make(map[string]HostRisk, len(s.dirtyHosts))
	for k := range s.dirtyHosts {
		c.Hosts[k] = s.hosts[k]
	}
	clear(s.dirtyHosts)
	c.DeletedHosts, s.deletedHosts = s.deletedHosts, nil
	s.dirtyPairs = nil
	s.deleted = nil
	return c
}

// Len is the number of lineages and pairs held.
func (s *State) Len() (lineages, pairs int) { return len(s.lineages), len(s.pairs) }
