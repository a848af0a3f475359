package claims

import (
	"encoding/json"
	"slices"
)

// CompiledMapping is a [Mapping] prepared once for minting: the claims it
// can write sorted by name with their JSON keys quoted, the reserved names
// dropped, app_metadata's provider members written. Minting with it builds
// no map and sorts nothing per token. The bridge compiles each provider's
// mapping when it starts. A CompiledMapping is immutable and safe for
// concurrent use.
type CompiledMapping struct {
	sub        SubMapping
	namespace  UUID
	trustEmail bool // Mapping.TrustUnverifiedEmail
	// slots are every member the mapping may write: app_metadata's
	// (slots[:user]), user_metadata's (slots[user:top]) and the extra
	// top-level claims (slots[top:]), each part sorted by name.
	slots     []slot
	user, top int
	// Where each source of gather writes, in slot numbers.
	email            target
	passthrough      []passthroughSource
	rules            []ruleSource
	userIss, userSub int
}

type slot struct {
	key   []byte          // the quoted name and a colon
	fixed json.RawMessage // a value known when compiling (app_metadata's provider), else nil
}

type target struct{ top, user int }

type passthroughSource struct {
	name string
	target
}

type ruleSource struct {
	pointer string
	slot    int
}

// Compile prepares mp for minting. Later changes to mp do not reach the
// result.
func (mp *Mapping) Compile() *CompiledMapping {
	c := &CompiledMapping{sub: mp.Sub, namespace: mp.Namespace, trustEmail: mp.TrustUnverifiedEmail}
	if c.sub == "" {
		c.sub = SubPassthrough
	}
	if c.namespace == (UUID{}) {
		c.namespace = NamespaceURL
	}
	// The names each part may hold, as gather writes them.
	app := []string{"provider", "providers"}
	user := []string{"email", "iss", "sub"}
	top := []string{"email"}
	var passthrough []string
	for _, name := range mp.Passthrough {
		if !reserved[name] {
			passthrough = append(passthrough, name)
			user, top = append(user, name), append(top, name)
		}
	}
	var rules []Rule
	for _, r := range mp.Rules {
		switch {
		case r.AppMetadata && !reservedAppMetadata[r.Target]:
			app = append(app, r.Target)
		case !r.AppMetadata && !reserved[r.Target]:
			top = append(top, r.Target)
		default:
			continue
		}
		rules = append(rules, r)
	}
	index := map[[2]string]int{} // part and name -> slot
	for _, p := range []struct {
		part  string
		names []string
		start *int
	}{{"app", app, nil}, {"user", user, &c.user}, {"top", top, &c.top}} {
		if p.start != nil {
			*p.start = len(c.slots)
		}
		slices.Sort(p.names)
		for _, name := range slices.Compact(p.names) {
			index[[2]string{p.part, name}] = len(c.slots)
			key, _ := json.Marshal(name) // a string always marshals
			c.slots = append(c.slots, slot{key: append(key, ':')})
		}
	}
	provider, _ := json.Marshal(mp.Provider)
	c.slots[index[[2]string{"app", "provider"}]].fixed = provider
	c.slots[index[[2]string{"app", "providers"}]].fixed = append(append([]byte{'['}, provider...), ']')
	c.userIss, c.userSub = index[[2]string{"user", "iss"}], index[[2]string{"user", "sub"}]
	c.email = target{top: index[[2]string{"top", "email"}], user: index[[2]string{"user", "email"}]}
	for _, name := range passthrough {
		c.passthrough = append(c.passthrough, passthroughSource{name: name,
			target: target{top: index[[2]string{"top", name}], user: index[[2]string{"user", name}]}})
	}
	for _, r := range rules {
		part := "top"
		if r.AppMetadata {
			part = "app"
		}
		c.rules = append(c.rules, ruleSource{pointer: r.Pointer, slot: index[[2]string{part, r.Target}]})
	}
	return c
}
