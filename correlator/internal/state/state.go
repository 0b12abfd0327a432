// Package state keeps the correlator's memory in a bbolt file (mode 0600):
// lineage dedup entries, rarity pairs, host risk over the window, the latest explanation of every
// lineage, input offsets and the outbox of alerts not yet delivered. One
// Commit writes all of them in a single transaction, so a crash never
// leaves offsets ahead of the alerts they produced.
package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/engine"
)

var (
	bucketLineages = []byte("lineages")
	bucketPairs    = []byte("pairs")
	bucketExplain  = []byte("explain")
	bucketOffsets  = []byte("offsets")
	bucketOutbox   = []byte("outbox")
	bucketExcHits  = []byte("exception_hits")
	bucketHostRisk = []byte("host_risk")
)

// ErrNotFound is returned when a lineage has no stored explanation.
var ErrNotFound = errors.New("not found")

// DB is an open state file.
type DB struct {
	db *bolt.DB
}

// Open opens or creates a state file. Its directory is created 0750.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLineages, bucketPairs, bucketExplain, bucketOffsets, bucketOutbox, bucketExcHits, bucketHostRisk} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// Offset is how far an input has been read.
type Offset struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
	FileID string `json:"file_id"` // identity of the file the offset belongs to
}

// Batch is everything one Commit writes.
type Batch struct {
	Changes engine.Changes
	Offsets map[string]Offset
	Explain []*alert.Alert // latest evaluation per lineage
	// ExplainDocs, when set, also gives latest evaluations, already encoded
	// as native JSON (alert.AppendJSON), through put.
	ExplainDocs func(put func(lineageID string, doc []byte) error) error
	Outbox      []*alert.Alert // alerts to deliver
}

// Commit writes a batch in one transaction.
func (d *DB) Commit(ch engine.Changes, offsets map[string]Offset, explain []*alert.Alert) error {
	return d.CommitBatch(Batch{Changes: ch, Offsets: offsets, Explain: explain})
}

// CommitBatch writes a batch in one transaction.
func (d *DB) CommitBatch(b Batch) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketLineages)
		for id, p := range b.Changes.Lineages {
			v, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := lb.Put([]byte(id), v); err != nil {
				return err
			}
		}
		eb := tx.Bucket(bucketExplain)
		for _, id := range b.Changes.Deleted {
			if err := lb.Delete([]byte(id)); err != nil {
				return err
			}
			if err := eb.Delete([]byte(id)); err != nil {
				return err
			}
		}
		rb := tx.Bucket(bucketHostRisk)
		for k, h := range b.Changes.Hosts {
			v, err := json.Marshal(h)
			if err != nil {
				return err
			}
			if err := rb.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range b.Changes.DeletedHosts {
			if err := rb.Delete([]byte(k)); err != nil {
				return err
			}
		}
		hb := tx.Bucket(bucketExcHits)
		for id, n := range b.Changes.ExceptionHits {
			var old int64
			if v := hb.Get([]byte(id)); len(v) == 8 {
				old = int64(binary.BigEndian.Uint64(v))
			}
			v := make([]byte, 8)
			binary.BigEndian.PutUint64(v, uint64(old+n))
			if err := hb.Put([]byte(id), v); err != nil {
				return err
			}
		}
		pb := tx.Bucket(bucketPairs)
		for _, p := range b.Changes.Pairs {
			if err := pb.Put([]byte(pairKey(p)), nil); err != nil {
				return err
			}
		}
		ob := tx.Bucket(bucketOffsets)
		for k, o := range b.Offsets {
			v, err := json.Marshal(o)
			if err != nil {
				return err
			}
			if err := ob.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, a := range b.Explain {
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := eb.Put([]byte(a.LineageID), v); err != nil {
				return err
			}
		}
		if b.ExplainDocs != nil {
			// bbolt keeps the value until the commit: copy the caller's bytes.
			if err := b.ExplainDocs(func(id string, doc []byte) error { return eb.Put([]byte(id), bytes.Clone(doc)) }); err != nil {
				return err
			}
		}
		xb := tx.Bucket(bucketOutbox)
		for _, a := range b.Outbox {
			seq, err := xb.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := xb.Put(seqKey(seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	return nil
}

func seqKey(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func pairKey(p engine.PairKey) string {
	return p.Host + "\x00" + p.Parent + "\x00" + p.Compiler
}

// LoadInto loads dedup and rarity entries into st.
func (d *DB) LoadInto(st *engine.State) error {
	lineages := map[string]engine.Prior{}
	hosts := map[string]engine.HostRisk{}
	var pairs []engine.PairKey
	err := d.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHostRisk).ForEach(func(k, v []byte) error {
			var h engine.HostRisk
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("host risk %s: %w", k, err)
			}
			hosts[string(k)] = h
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketLineages).ForEach(func(k, v []byte) error {
			var p engine.Prior
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("lineage %s: %w", k, err)
			}
			lineages[string(k)] = p
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketPairs).ForEach(func(k, _ []byte) error {
			parts := strings.SplitN(string(k), "\x00", 3)
			if len(parts) == 3 {
				pairs = append(pairs, engine.PairKey{Host: parts[0], Parent: parts[1], Compiler: parts[2]})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	st.Load(lineages, pairs)
	st.LoadHostRisk(hosts)
	return nil
}

// ExceptionHits returns how often each exception matched, over all runs
// that used this state file.
func (d *DB) ExceptionHits() (map[string]int64, error) {
	out := map[string]int64{}
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExcHits).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = int64(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read exception hits: %w", err)
	}
	return out, nil
}

// Offset returns the saved offset of an input.
func (d *DB) Offset(key string) (Offset, bool, error) {
	var o Offset
	var ok bool
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOffsets).Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &o)
	})
	if err != nil {
		return Offset{}, false, fmt.Errorf("read offset %s: %w", key, err)
	}
	return o, ok, nil
}

// Explain returns the latest stored evaluation of a lineage.
func (d *DB) Explain(lineageID string) (*alert.Alert, error) {
	var a *alert.Alert
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketExplain).Get([]byte(lineageID))
		if v == nil {
			return ErrNotFound
		}
		a = &alert.Alert{}
		return json.Unmarshal(v, a)
	})
	if err != nil {
		return nil, fmt.Errorf("explain %s: %w", lineageID, err)
	}
	return a, nil
}

// OutboxItem is an undelivered alert.
type OutboxItem struct {
	Key   uint64
	Alert *alert.Alert
}

// Outbox lists undelivered alerts in commit order.
func (d *DB) Outbox() ([]OutboxItem, error) {
	var out []OutboxItem
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			a := &alert.Alert{}
			if err := json.Unmarshal(v, a); err != nil {
				return err
			}
			out = append(out, OutboxItem{Key: binary.BigEndian.Uint64(k), Alert: a})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Delivered removes an alert from the outbox.
func (d *DB) Delivered(key uint64) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Delete(seqKey(key))
	})
	if err != nil {
		return fmt.Errorf("outbox delete: %w", err)
	}
	return nil
}

// OpenReadOnly opens an existing state file for reading, waiting at most
// timeout for a writer (a running `correlator run`) to let go of it.
func OpenReadOnly(path string, timeout time.Duration) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open state %s read-only: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Explanations returns the latest stored evaluation of every lineage, in
// lineage id order.
func (d *DB) Explanations() ([]*alert.Alert, error) {
	var out []*alert.Alert
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExplain)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			a := &alert.Alert{}
			if err := json.Unmarshal(v, a); err != nil {
				return fmt.Errorf("lineage %q: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read explanations: %w", err)
	}
	return out, nil
}
