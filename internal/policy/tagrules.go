package policy

import (
	"strconv"
	"strings"
)

// maxNamed is how many tags one detail names before it says "and N more".
// It is CeilingTags, so a request within any max_tags has every failing
// tag named.
const maxNamed = CeilingTags

// Details of the tag rules that do not depend on the tags.
const (
	oneTag          = "one tag"
	everyTagValid   = "every tag is valid"
	noDenyPatterns  = "no deny patterns"
	noDenyMatches   = "no deny pattern matches"
	everyTagAllowed = "every tag is allowed"
	everyTagExists  = "every tag exists"
	newTagsAllowed  = "new tags allowed (tags.allow_new: true)"
	noReadOnly      = "no read_only patterns"
	noTagReadOnly   = "no tag is read-only"
	tagInvalidSkip  = "not checked: the tag is invalid"
	tagsInvalidSkip = "not checked: no tag is valid"
)

// tagCount applies the tag_count rule: tag or tags (not both), 1..max_tags
// tags, no tag twice.
func (c *compiled) tagCount(req CreateRequest, tags []string) RuleResult {
	max := c.access.MaxTags
	switch {
	case req.TagsSet && req.Tag != "":
		return RuleResult{RuleTagCount, Fail, "both tag and tags were given; give tag (one tag) or tags (several), not both"}
	case len(tags) == 0 && req.TagsSet:
		return RuleResult{RuleTagCount, Fail, "tags is empty; give 1.." + strconv.Itoa(max) + " tags (" + c.names.maxTags + ")"}
	case len(tags) == 0:
		return RuleResult{RuleTagCount, Fail, "no tag given; give tag, or tags (1.." + strconv.Itoa(max) + " tags)"}
	case len(tags) > max:
		return RuleResult{RuleTagCount, Fail, strconv.Itoa(len(tags)) + " tags is over " + c.names.maxTags + " " + strconv.Itoa(max)}
	case len(tags) == 1:
		return RuleResult{RuleTagCount, Pass, oneTag}
	}
	var dups []string
	for i, t := range tags {
		for _, u := range tags[:i] {
			if t == u {
				if !contains(dups, t) {
					dups = append(dups, t)
				}
				break
			}
		}
	}
	switch len(dups) {
	case 0:
		return RuleResult{RuleTagCount, Pass, strconv.Itoa(len(tags)) + " " + c.tagsWithin}
	case 1:
		return RuleResult{RuleTagCount, Fail, "tag " + Quote(dups[0]) + " is given more than once; give each tag once"}
	}
	return RuleResult{RuleTagCount, Fail, "tags " + nameTags(dups) + " are given more than once; give each tag once"}
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nameTags quotes up to maxNamed tags, comma-separated, noting how many
// were left out.
func nameTags(tags []string) string {
	var b strings.Builder
	for i, t := range tags {
		if i == maxNamed {
			b.WriteString(", … and " + strconv.Itoa(len(tags)-maxNamed) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(t))
	}
	return b.String()
}

// tagRules appends tag_syntax, tag_deny, tag_allow and tag_new, checking
// every tag, and reports whether there is at least one tag and all are
// valid. A refusal names each failing tag.
func (c *compiled) tagRules(rules []RuleResult, req CreateRequest, tags []string) ([]RuleResult, bool) {
	if len(tags) <= 1 {
		tag := ""
		if len(tags) == 1 {
			tag = tags[0]
		}
		if err := ValidTag(tag); err != nil {
			return append(rules,
				RuleResult{RuleTagSyntax, Fail, err.Error()},
				RuleResult{RuleTagDeny, Skip, tagInvalidSkip},
				RuleResult{RuleTagAllow, Skip, tagInvalidSkip},
				RuleResult{RuleTagNew, Skip, tagInvalidSkip},
			), false
		}
		return append(rules, RuleResult{RuleTagSyntax, Pass, "valid tag"}, c.denyRule(tag), c.allowRule(tag), c.newRule(req, tag)), true
	}

	var valid, invalid []string
	var firstErr error
	for _, t := range tags {
		if err := ValidTag(t); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			invalid = append(invalid, t)
			continue
		}
		valid = append(valid, t)
	}
	switch len(invalid) {
	case 0:
		rules = append(rules, RuleResult{RuleTagSyntax, Pass, everyTagValid})
	case 1:
		rules = append(rules, RuleResult{RuleTagSyntax, Fail, firstErr.Error()})
	default:
		rules = append(rules, RuleResult{RuleTagSyntax, Fail, firstErr.Error() + "; also invalid: " + nameTags(invalid[1:])})
	}
	if len(valid) == 0 {
		return append(rules,
			RuleResult{RuleTagDeny, Skip, tagsInvalidSkip},
			RuleResult{RuleTagAllow, Skip, tagsInvalidSkip},
			RuleResult{RuleTagNew, Skip, tagsInvalidSkip},
		), false
	}
	rules = append(rules, c.denyRules(valid), c.allowRules(valid), c.newRules(req, valid))
	return rules, len(invalid) == 0
}

// patternGroup is the tags that one pattern of a set matched first.
type patternGroup struct {
	pattern int
	tags    []string
}

// groupByPattern returns, in order of first appearance, the valid tags that
// a pattern of ps matches, grouped by the first pattern that matches each.
func groupByPattern(ps *patternSet, tags []string) []patternGroup {
	var groups []patternGroup
	for _, t := range tags {
		i := ps.first(t)
		if i < 0 {
			continue
		}
		found := false
		for g := range groups {
			if groups[g].pattern == i {
				groups[g].tags = append(groups[g].tags, t)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, patternGroup{pattern: i, tags: []string{t}})
		}
	}
	return groups
}

// describeGroups writes "tag "a" is <detail>" or "tags "a", "b" are
// <detail>" for each group, joined with "; ".
func describeGroups(ps *patternSet, groups []patternGroup) string {
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteString("; ")
		}
		if len(g.tags) == 1 {
			b.WriteString("tag " + Quote(g.tags[0]) + " is ")
		} else {
			b.WriteString("tags " + nameTags(g.tags) + " are ")
		}
		b.WriteString(ps.ms[g.pattern].detail)
	}
	return b.String()
}

// denyRules checks several valid tags against the deny patterns.
func (c *compiled) denyRules(tags []string) RuleResult {
	if len(c.deny.ms) == 0 {
		return RuleResult{RuleTagDeny, Pass, noDenyPatterns}
	}
	groups := groupByPattern(&c.deny, tags)
	if len(groups) == 0 {
		return RuleResult{RuleTagDeny, Pass, noDenyMatches}
	}
	return RuleResult{RuleTagDeny, Fail, describeGroups(&c.deny, groups)}
}

// allowRules checks several valid tags against the allow patterns, naming
// every tag refused.
func (c *compiled) allowRules(tags []string) RuleResult {
	var outside, notTop []string
	for _, t := range tags {
		if c.narrow != nil && c.narrow.first(t) < 0 {
			outside = append(outside, t)
		} else if c.allow.first(t) < 0 {
			notTop = append(notTop, t)
		}
	}
	if len(outside)+len(notTop) == 0 {
		return RuleResult{RuleTagAllow, Pass, everyTagAllowed}
	}
	var parts []string
	if len(outside) > 0 {
		if len(c.narrow.ms) == 0 {
			parts = append(parts, "no tags are allowed for this caller: "+c.caller.label+".tags.allow is empty")
		} else {
			parts = append(parts, tagsAre(outside, "outside this caller's tags", "is", "are")+" ("+c.caller.label+".tags.allow: "+c.narrowList+")")
		}
	}
	if len(notTop) > 0 {
		switch {
		case c.narrow != nil:
			them := "them"
			if len(notTop) == 1 {
				them = "it"
			}
			parts = append(parts, tagsAre(notTop, "no allow pattern of the top-level policy", "matches", "match")+
				" ("+c.caller.label+" allows "+them+", but a tag must pass both)")
		case len(c.allow.ms) == 0:
			parts = append(parts, c.noAllow)
		default:
			parts = append(parts, tagsAre(notTop, "no allow pattern", "matches", "match")+" (allowed: "+c.allowList+")")
		}
	}
	return RuleResult{RuleTagAllow, Fail, strings.Join(parts, "; ")}
}

// tagsAre writes `tag "a" <one> <what>` or `tags "a", "b" <many> <what>`.
func tagsAre(tags []string, what, one, many string) string {
	if len(tags) == 1 {
		return "tag " + Quote(tags[0]) + " " + one + " " + what
	}
	return "tags " + nameTags(tags) + " " + many + " " + what
}

// exists is what the request says of whether tag exists.
func exists(req CreateRequest, tag string, single bool) Tristate {
	if v, ok := req.TagsExist[tag]; ok {
		return v
	}
	if single {
		return req.TagExists
	}
	return Unknown
}

// newRule applies tag_new to the one valid tag of a request.
func (c *compiled) newRule(req CreateRequest, tag string) RuleResult {
	if c.allowNew {
		return RuleResult{RuleTagNew, Pass, newTagsAllowed}
	}
	switch exists(req, tag, true) {
	case Yes:
		return RuleResult{RuleTagNew, Pass, "tag exists"}
	case No:
		return RuleResult{RuleTagNew, Fail, "tag " + Quote(tag) + " does not exist and tags.allow_new is false"}
	}
	return RuleResult{RuleTagNew, Fail, "tags.allow_new is false and whether tag " + Quote(tag) + " exists was not checked"}
}

// newRules applies tag_new to several valid tags.
func (c *compiled) newRules(req CreateRequest, tags []string) RuleResult {
	if c.allowNew {
		return RuleResult{RuleTagNew, Pass, newTagsAllowed}
	}
	var missing, unknown []string
	for _, t := range tags {
		switch exists(req, t, false) {
		case Yes:
		case No:
			missing = append(missing, t)
		default:
			unknown = append(unknown, t)
		}
	}
	var parts []string
	if len(missing) > 0 {
		if len(missing) == 1 {
			parts = append(parts, "tag "+Quote(missing[0])+" does not exist")
		} else {
			parts = append(parts, "tags "+nameTags(missing)+" do not exist")
		}
	}
	if len(unknown) > 0 {
		if len(unknown) == 1 {
			parts = append(parts, "whether tag "+Quote(unknown[0])+" exists was not checked")
		} else {
			parts = append(parts, "whether tags "+nameTags(unknown)+" exist was not checked")
		}
	}
	if len(parts) == 0 {
		return RuleResult{RuleTagNew, Pass, everyTagExists}
	}
	return RuleResult{RuleTagNew, Fail, strings.Join(parts, "; ") + " (tags.allow_new is false)"}
}

// readOnlyRule applies tag_read_only: a key that includes a read-only tag
// may only be read. perm is the effective permission, asked what the
// request gave.
func (c *compiled) readOnlyRule(tags []string, perm, asked string) RuleResult {
	if len(c.readOnly.ms) == 0 {
		return RuleResult{RuleTagReadOnly, Pass, noReadOnly}
	}
	valid := tags
	for _, t := range tags {
		if ValidTag(t) != nil {
			valid = validOnly(tags)
			break
		}
	}
	groups := groupByPattern(&c.readOnly, valid)
	if len(groups) == 0 {
		return RuleResult{RuleTagReadOnly, Pass, noTagReadOnly}
	}
	what := describeGroups(&c.readOnly, groups)
	switch perm {
	case PermissionRead:
		return RuleResult{RuleTagReadOnly, Pass, "permission read; " + what}
	case PermissionWrite:
		how := "permission write was asked for"
		if asked == "" {
			how = "permission write is the default (" + c.names.defaultPerm + ")"
		}
		return RuleResult{RuleTagReadOnly, Fail, what + ": a key that includes a read-only tag may only be read, and " + how + "; ask for permission read"}
	}
	return RuleResult{RuleTagReadOnly, Skip, "not checked: the permission is not read or write (refused by scoped_only)"}
}

// validOnly returns the tags that pass ValidTag.
func validOnly(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if ValidTag(t) == nil {
			out = append(out, t)
		}
	}
	return out
}
