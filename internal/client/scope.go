package client

import (
	"github.com/go-json-experiment/json/jsontext"
)

// The scope of a key in an answer (its tags and permission) is read so
// that ambiguity makes the key look wider, never narrower: a doubtful
// listing makes a key less revocable, and a doubtful create answer fails
// verification. See Key and CreatedKey for the rules.

// tagSet accumulates the containerTag and containerTags members of one key
// object; a member sent twice counts twice.
type tagSet struct {
	list  []string // every containerTags member, in order
	first []byte   // the first non-empty containerTag; aliases the input
	more  []string // every later containerTag
}

// readContainerTag reads one containerTag member into ts.
func (r *reader) readContainerTag(ts *tagSet) {
	switch t := r.readTagBytes(); {
	case len(t) == 0:
	case ts.first == nil:
		ts.first = t
	default:
		ts.more = append(ts.more, string(t))
	}
}

// readContainerTags reads one containerTags member into ts.
func (r *reader) readContainerTags(ts *tagSet) { ts.list = r.readTagList(ts.list) }

// tags returns the union, without duplicates, of containerTags (first, in
// order) and every containerTag; nil if there is none.
func (ts *tagSet) tags() []string {
	tags := ts.list
	if len(ts.first) > 0 && !hasTag(tags, ts.first) {
		tags = append(tags, string(ts.first))
	}
	tags = dedupTags(append(tags, ts.more...))
	if len(tags) == 0 {
		return nil
	}
	return tags
}

// UnreadablePermission stands in Key.Permission and CreatedKey.Permission
// for a permission the answer holds but that cannot be read as one value:
// not a string, an empty string, or two different values that are neither
// "read" nor "write". No check that asks for "read" or "write" passes it.
const UnreadablePermission = "(unreadable permission)"

// permSet accumulates the permission members of one key: every
// "permission" (and, in a create answer, "scope.permission") member.
type permSet struct {
	rank  int    // of the widest value seen: 0 none, 1 read, 2 write, 3 other
	value []byte // the widest value seen; aliases the input
	mixed bool   // two different values of rank 3, or one unreadable
}

// permRank orders permissions from narrow to wide: "read", "write", then
// anything else, which is not known to be narrower than write.
func permRank(p []byte) int {
	switch string(p) {
	case "read":
		return 1
	case "write":
		return 2
	}
	return 3
}

// add records one member, as scalar read it. Null is no permission.
func (ps *permSet) add(kind jsontext.Kind, b []byte) {
	switch {
	case kind == 'n' || kind == 0:
		return
	case kind != '"' || len(b) == 0:
		ps.rank, ps.mixed = 3, true
		return
	}
	switch rank := permRank(b); {
	case rank > ps.rank:
		ps.rank, ps.value = rank, b
	case rank == 3 && string(b) != string(ps.value):
		ps.mixed = true
	}
}

// String returns the widest permission seen, "" if none, or
// UnreadablePermission.
func (ps *permSet) String() string {
	switch {
	case ps.rank == 0:
		return ""
	case ps.mixed:
		return UnreadablePermission
	}
	return permission(ps.value)
}

// readScopePermission reads a create answer's scope: an object whose
// permission members are added to ps. Other values say nothing.
func (r *reader) readScopePermission(ps *permSet) {
	if r.peek() != '{' {
		r.skip()
		return
	}
	r.object(func(name []byte) {
		if string(name) == "permission" {
			ps.add(r.scalar())
			return
		}
		r.skip()
	})
}
