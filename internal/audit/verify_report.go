package audit

import (
	"fmt"
	"strings"
)

// VerifyReport says what a verification of a whole log checked.
type VerifyReport struct {
	// Records is how many records were verified (before the first bad one).
	Records int
	// Keyed is true when every record's MAC was checked under a chain key.
	Keyed bool
	// HeadSHA is the hex SHA-256 of the last verified line. Kept somewhere
	// the log's writers cannot reach, with Records, it anchors the log: a
	// later log must hold the same line at that Seq.
	HeadSHA string
	// Checkpoint is the Seq named by the checkpoint beside the log that the
	// log was checked against; 0 when there was none.
	Checkpoint int64
}

// String describes the result in one line for `mcp-keys audit verify`,
// followed by what the verification cannot detect (see [VerifyLimits]).
func (r VerifyReport) String() string {
	var b strings.Builder
	if r.Keyed {
		fmt.Fprintf(&b, "%d records, hash chain intact, every record's HMAC-SHA256 MAC checked", r.Records)
	} else {
		fmt.Fprintf(&b, "%d records, hash chain intact (unkeyed: SHA-256 only)", r.Records)
	}
	if r.Records > 0 {
		fmt.Fprintf(&b, "; last record %d, sha256 %s", r.Records, r.HeadSHA)
	}
	if r.Checkpoint > 0 {
		fmt.Fprintf(&b, "; matches the checkpoint (record %d)", r.Checkpoint)
	} else {
		b.WriteString("; no checkpoint beside the log")
	}
	b.WriteString(".\n")
	b.WriteString(VerifyLimits(r.Keyed))
	return b.String()
}

// VerifyLimits says, for an operator, what verification does not detect,
// without a chain key (keyed false) or with one.
func VerifyLimits(keyed bool) string {
	if !keyed {
		return "Not detected without a chain key: anyone who can write the log can rewrite it and recompute " +
			"every hash (and the checkpoint), so an unkeyed chain shows damage and careless edits, not a " +
			"deliberate rewrite. Set MCP_KEYS_AUDIT_KEY_FILE to key it with HMAC-SHA256."
	}
	return "Not detected with a chain key but no external anchor: records cut off the end of the log. They " +
		"are detected only against the checkpoint beside it (" + checkpointSuffix + "), which anyone who can " +
		"write the directory can delete or replace with an older copy. Keep the last record's number and " +
		"sha256 somewhere else to detect that."
}

// VerifyFileKey verifies the whole log at path under a shared lock, with
// the chain key (nil for an unkeyed log, whose records must carry no MAC;
// with a key, every record's MAC must be right under it), and then
// against the checkpoint beside it, if there is one: a log that no longer
// holds the record the checkpoint names, or holds another one in its place,
// fails with a *VerifyError naming it.
func VerifyFileKey(path string, key []byte) (VerifyReport, error) {
	rep := VerifyReport{Keyed: key != nil}
	if err := checkChainKey(key); err != nil {
		return rep, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	f, err := openRead(path)
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	defer f.Close()
	if err := lockBestEffort(f); err != nil {
		return rep, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	var cp checkpoint
	var hasCP bool
	cf, err := openCheckpointRead(path)
	if err != nil {
		return rep, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	var cpErr error // reported after the log's own problems, which say more
	if cf != nil {
		cp, hasCP, cpErr = readCheckpoint(cf, key)
		_ = cf.Close()
	}
	v := verifier{key: key}
	_, err = verifyLines(f, &v, func(line []byte, rec Record, end int64) error {
		if hasCP && rec.Seq == cp.Seq && (end != cp.Offset || hashLine(line) != cp.SHA) {
			return notCheckpointed(cp)
		}
		return nil
	})
	rep.Records, rep.HeadSHA = int(v.seq), v.prevSHA
	if err == nil && cpErr != nil {
		err = cpErr
	}
	if err == nil && hasCP && cp.Seq > v.seq {
		err = cutTail(cp, v.seq)
	}
	if err != nil {
		return rep, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	if hasCP {
		rep.Checkpoint = cp.Seq
	}
	return rep, nil
}
