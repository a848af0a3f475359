package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"supabridge/shared/claims"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// entry is one element of AUTH_PROVIDERS as written by the operator.
type entry struct {
	Name              string            `json:"name"`
	Issuer            string            `json:"issuer"`
	JWKSURL           string            `json:"jwks_url"`
	PublicKey         string            `json:"public_key"`
	Audience          stringList        `json:"audience"`
	Algorithms        stringList        `json:"algorithms"`
	Leeway            *duration         `json:"leeway"`
	ClaimsPassthrough *stringList       `json:"claims_passthrough"`
	ClaimsMap         map[string]string `json:"claims_map"`
	SubMapping        string            `json:"sub_mapping"`
	SubUUIDNamespace  string            `json:"sub_uuid_namespace"`
	TokenURL          string            `json:"token_url"`
	ClientID          string            `json:"client_id"`
	ClientSecretEnv   string            `json:"client_secret_env"`
	ClientSecretFile  string            `json:"client_secret_file"`
	ClientAuth        string            `json:"client_auth"`
	HTTPTimeout       *duration         `json:"http_timeout"`
	InsecureHTTP      bool              `json:"insecure_http"`
	// TrustUnverifiedEmail mints the email even when email_verified is
	// not true.
	TrustUnverifiedEmail *bool `json:"trust_unverified_email"`
	// AllowAnyAudience opts out of the audience check, on purpose.
	AllowAnyAudience *bool `json:"allow_any_audience"`
	// ClientSecret is refused: a secret does not belong in a ConfigMap.
	ClientSecret *string `json:"client_secret"`

	// secret is the client secret already read (the single-provider
	// variables); nil means read client_secret_env or client_secret_file.
	secret []byte
	// publicKeyFrom names the variable PublicKey was read from when it is
	// not the field's own name (AUTH_PUBLIC_KEY_FILE).
	publicKeyFrom string
}

// stringList accepts "a" or ["a","b"].
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = List(one)
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = many
	return nil
}

// duration accepts whole seconds (30) or a Go duration ("30s").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*d = duration(time.Duration(n) * time.Second)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want seconds or a duration string")
	}
	v, err := ParseDuration(s)
	if err != nil || v < 0 {
		return errors.New("want seconds or a duration string")
	}
	*d = duration(v)
	return nil
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func parseProviders(r reader, from string, data []byte, d providerDefaults) []Provider {
	// JSON is YAML, so this reads both. YAMLToJSON reads only the first
	// document: refuse a second one (or text after a JSON list) rather than
	// silently dropping providers.
	n, err := yamlDocuments(data)
	switch {
	case err != nil:
		r.errs.add("%s: not JSON or YAML", from)
		return nil
	case n != 1:
		r.errs.add("%s: holds %d documents; give one list of providers", from, n)
		return nil
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		r.errs.add("%s: not JSON or YAML", from)
		return nil
	}
	entries, ok := decodeEntries(r.errs, from, js)
	if !ok {
		return nil
	}
	if len(entries) == 0 {
		r.errs.add("%s: no provider listed", from)
		return nil
	}
	out := make([]Provider, 0, len(entries))
	names, issuers := map[string]bool{}, map[string]bool{}
	for i, e := range entries {
		label := entryLabel(from, i, e.Name)
		field := func(f string) string { return label + "." + f }
		if !namePattern.MatchString(e.Name) {
			r.errs.add("%s: required, lower-case letters, digits, - and _", field("name"))
		} else if names[e.Name] {
			r.errs.add("%s: %q is used twice", field("name"), e.Name)
		}
		names[e.Name] = true
		if e.Issuer == "" {
			r.errs.add("%s: required", field("issuer"))
		} else if issuers[e.Issuer] {
			r.errs.add("%s: another entry has the same issuer", field("issuer"))
		}
		issuers[e.Issuer] = true
		if e.ClientSecret != nil {
			r.errs.add("%s: not allowed inline; use client_secret_env or client_secret_file", field("client_secret"))
		}
		if len(entries) > 1 && e.SubMapping == "" {
			// Two providers may issue the same sub: passthrough would make
			// their users one Supabase user to every policy keyed on sub.
			// That must be a choice, made for each provider.
			r.errs.add("%s: required when several providers are listed: uuid5 keeps each provider's users apart, passthrough lets two providers' equal subs be one user", field("sub_mapping"))
		}
		out = append(out, r.provider(e, d, field))
	}
	return out
}

// provider turns one entry, from either form, into a Provider: the one
// place where defaults apply and the rules are checked. field names a
// field in errors the way the operator wrote it.
func (r reader) provider(e entry, d providerDefaults, field func(string) string) Provider {
	p := Provider{
		Name:        e.Name,
		Issuer:      e.Issuer,
		JWKSURL:     e.JWKSURL,
		PublicKey:   []byte(e.PublicKey),
		Audience:    e.Audience,
		Algorithms:  e.Algorithms,
		Leeway:      verify.DefaultLeeway,
		TokenURL:    e.TokenURL,
		ClientID:    e.ClientID,
		ClientAuth:  e.ClientAuth,
		HTTPTimeout: d.timeout,
		Secret:      e.secret,
	}
	p.InsecureHTTP = e.InsecureHTTP
	if e.Leeway != nil {
		p.Leeway = time.Duration(*e.Leeway) // an explicit 0 means no leeway
	}
	if e.HTTPTimeout != nil {
		p.HTTPTimeout = time.Duration(*e.HTTPTimeout)
	}
	switch {
	case e.secret != nil:
	case e.ClientSecretEnv != "" && e.ClientSecretFile != "":
		r.errs.add("%s and client_secret_file are both set; set one", field("client_secret_env"))
	case e.ClientSecretEnv != "" && ownVariable(e.ClientSecretEnv):
		// SUPABASE_JWT_SECRET here would send the Supabase secret to the
		// provider (and into its logs) as our client secret.
		r.errs.add("%s: names %s, a variable supabridge reads itself; give the client secret a variable of its own", field("client_secret_env"), e.ClientSecretEnv)
	case e.ClientSecretEnv != "":
		v := r.get(e.ClientSecretEnv)
		if v == "" {
			r.errs.add("%s: the variable it names is not set", field("client_secret_env"))
		}
		p.Secret = []byte(v)
	case e.ClientSecretFile != "":
		b, err := os.ReadFile(e.ClientSecretFile)
		if err != nil {
			r.errs.add("%s: cannot read the file", field("client_secret_file"))
		}
		p.Secret = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	p.Mapping = claims.Mapping{Provider: e.Name, Passthrough: d.passthrough, Sub: d.sub, Namespace: d.namespace}
	if e.ClaimsPassthrough != nil {
		p.Mapping.Passthrough = *e.ClaimsPassthrough
	}
	if e.SubMapping != "" {
		p.Mapping.Sub = subMapping(e.SubMapping, field("sub_mapping"), r.errs)
	}
	if e.SubUUIDNamespace != "" {
		p.Mapping.Namespace = namespace(e.SubUUIDNamespace, field("sub_uuid_namespace"), r.errs)
	}
	if e.TrustUnverifiedEmail != nil {
		p.Mapping.TrustUnverifiedEmail = *e.TrustUnverifiedEmail
	}
	if e.AllowAnyAudience != nil && *e.AllowAnyAudience {
		p.AllowAnyAudience = true
		if len(p.Audience) > 0 {
			r.errs.add("%s and %s are both set; set one", field("allow_any_audience"), field("audience"))
		}
	}
	p.Mapping.Rules = rules(e.ClaimsMap, field("claims_map"), r.errs)
	if len(p.PublicKey) > 0 {
		// Parsed here, as the functions will parse it, so that an unusable
		// key is a configuration error naming what the operator set, not a
		// later `bridge: provider "default": public key` error.
		if _, err := keys.NewStatic(p.PublicKey); err != nil {
			name := field("public_key")
			if e.publicKeyFrom != "" {
				name = e.publicKeyFrom
			}
			r.errs.add("%s: %s", name, strings.TrimPrefix(err.Error(), "keys: "))
		}
	}
	checkProvider(r.errs, &p, field)
	return p
}

// entryLabel names entry i of from the way errors do: AUTH_PROVIDERS[1] (b).
func entryLabel(from string, i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", from, i)
	}
	return fmt.Sprintf("%s[%d] (%s)", from, i, name)
}

// decodeEntries decodes the list one entry at a time, so that an error
// names the entry (by index and, when it has one, name) and the field: a
// list of ten providers with one "isuer" should say which. A member whose
// value does not decode is found by decoding the entry's members one by
// one. It reports false when any entry fails.
func decodeEntries(errs *problems, from string, js []byte) ([]entry, bool) {
	var raws []json.RawMessage
	if err := jsonStrict(js, &raws); err != nil {
		errs.add("%s: not a JSON array of provider objects", from)
		return nil, false
	}
	entries := make([]entry, len(raws))
	ok := true
	for i, raw := range raws {
		err := jsonStrict(raw, &entries[i])
		if err == nil {
			continue
		}
		ok = false
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &named) // for the label only
		label := entryLabel(from, i, named.Name)
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			errs.add("%s: not a provider object", label)
			continue
		}
		keys := make([]string, 0, len(members))
		for k := range members {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		found := false
		for _, k := range keys {
			one, _ := json.Marshal(map[string]json.RawMessage{k: members[k]})
			var e entry
			if err := jsonStrict(one, &e); err != nil {
				if f, unknown := strings.CutPrefix(err.Error(), "json: unknown field "); unknown {
					errs.add("%s: unknown field %s", label, f)
				} else {
					errs.add("%s.%s: %s", label, k, describeValueError(err))
				}
				found = true
			}
		}
		if !found {
			errs.add("%s: %s", label, describeValueError(err))
		}
	}
	return entries, ok
}

// describeValueError says what is wrong with a field's value without
// quoting it.
func describeValueError(err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, "want ") {
		return msg
	}
	return "has the wrong type"
}

// yamlDocuments counts the YAML documents in data.
func yamlDocuments(data []byte) (int, error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// rules turns a claims_map into sorted Rules. A key "app_metadata.<k>"
// targets a key of app_metadata; any other key is a top-level claim.
func rules(m map[string]string, label string, errs *problems) []Rule {
	targets := make([]string, 0, len(m))
	for t := range m {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	var out []Rule
	for _, t := range targets {
		ptr := m[t]
		r := Rule{Target: t, Pointer: ptr}
		if k, ok := strings.CutPrefix(t, "app_metadata."); ok {
			r = Rule{Target: k, AppMetadata: true, Pointer: ptr}
			if k == "" || claims.ReservedAppMetadata(k) {
				errs.add("%s: target %q is reserved", label, t)
				continue
			}
		} else if t == "" || claims.Reserved(t) {
			errs.add("%s: target %q is a reserved claim", label, t)
			continue
		}
		if !claims.ValidPointer(ptr) {
			errs.add("%s: %q is not a JSON Pointer (RFC 6901), like /realm_access/roles", label, t)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Rule is claims.Rule, named here for brevity.
type Rule = claims.Rule
