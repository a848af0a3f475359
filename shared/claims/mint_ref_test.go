package claims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// payloadV1 is how the mint wrote the claim set before issue 20: three
// maps, sorted keys, json.Marshal per key, and json.Compact over the whole.
// It is the reference FuzzMintClaims holds appendClaims to, byte for byte.
func (m *Minter) payloadV1(p *Payload, mp *Mapping, sub string, now, exp time.Time) ([]byte, error) {
	top := map[string]json.RawMessage{}
	app := map[string]json.RawMessage{}
	user := map[string]json.RawMessage{}
	email := mp.TrustUnverifiedEmail || EmailVerified(p)
	if v, ok := p.Raw("email"); ok && email {
		top["email"] = v
		user["email"] = v
	}
	for _, name := range mp.Passthrough {
		if reserved[name] || (name == "email" && !email) {
			continue
		}
		if v, ok := p.Raw(name); ok {
			top[name] = v
			user[name] = v
		}
	}
	for _, r := range mp.Rules {
		if !email && readsEmail(r.Pointer) {
			continue
		}
		v, ok := p.Pointer(r.Pointer)
		if !ok {
			continue
		}
		switch {
		case r.AppMetadata && !reservedAppMetadata[r.Target]:
			app[r.Target] = v
		case !r.AppMetadata && !reserved[r.Target]:
			top[r.Target] = v
		}
	}
	iss, err := json.Marshal(p.Issuer)
	if err != nil {
		return nil, err
	}
	psub, err := json.Marshal(p.Subject)
	if err != nil {
		return nil, err
	}
	user["iss"], user["sub"] = iss, psub
	name, err := json.Marshal(mp.Provider)
	if err != nil {
		return nil, err
	}
	app["provider"] = name
	app["providers"] = append(append([]byte{'['}, name...), ']')

	var b bytes.Buffer
	b.WriteByte('{')
	writeStringV1(&b, "iss", m.issuer)
	b.WriteByte(',')
	writeStringV1(&b, "aud", m.audience)
	b.WriteByte(',')
	writeStringV1(&b, "sub", sub)
	b.WriteByte(',')
	writeStringV1(&b, "role", Role)
	b.WriteString(`,"iat":`)
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(`,"exp":`)
	b.WriteString(strconv.FormatInt(exp.Unix(), 10))
	b.WriteString(`,"is_anonymous":false,"app_metadata":`)
	writeObjectV1(&b, app)
	b.WriteString(`,"user_metadata":`)
	writeObjectV1(&b, user)
	for _, k := range sortedKeysV1(top) {
		b.WriteByte(',')
		writeKeyV1(&b, k)
		b.Write(top[k])
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Compact(&out, b.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeObjectV1(b *bytes.Buffer, m map[string]json.RawMessage) {
	b.WriteByte('{')
	for i, k := range sortedKeysV1(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKeyV1(b, k)
		b.Write(m[k])
	}
	b.WriteByte('}')
}

func writeKeyV1(b *bytes.Buffer, k string) {
	q, _ := json.Marshal(k)
	b.Write(q)
	b.WriteByte(':')
}

func writeStringV1(b *bytes.Buffer, k, v string) {
	writeKeyV1(b, k)
	q, _ := json.Marshal(v)
	b.Write(q)
}

func sortedKeysV1(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mintMappings are the mappings FuzzMintClaims tries: the default one, and
// ones that name reserved claims, repeat names, and aim rules at the same
// claims as Passthrough and at each other.
var mintMappings = []Mapping{
	{Provider: "authentik", Passthrough: DefaultPassthrough},
	{Provider: `p"<&>`, Passthrough: []string{"email", "role", "sub", "x", "x", "user_metadata", "é", "a<b"}},
	{Provider: "kc", Passthrough: []string{"name"}, Sub: SubUUID5, Rules: []Rule{
		{Target: "name", Pointer: "/given_name"},
		{Target: "roles", AppMetadata: true, Pointer: "/realm_access/roles"},
		{Target: "roles", AppMetadata: true, Pointer: "/groups"},
		{Target: "provider", AppMetadata: true, Pointer: "/x"},
		{Target: "role", Pointer: "/x"},
		{Target: "org_id", Pointer: "/a~1b/0"},
		{Target: "email", Pointer: "/x"},
	}},
	{Provider: "", Passthrough: nil},
}

// FuzzMintClaims holds appendClaims to payloadV1 on every payload Decode
// accepts and every mapping of mintMappings: the same bytes.
func FuzzMintClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://a/","sub":"u","email":"a@b","email_verified":true,"name":"A B","groups":[ "x" , "y" ],"org_id":"o"}`,
		`{"iss":"i<>&","sub":"\u2028s\"","x":{"y" : [1, 2]},"x":3,"é":"\u00e9","a<b":null,"given_name":"G","realm_access":{"roles":["r"]}}`,
		"{\"sub\":\"x\xffy\",\"email\":\"e\xfe\",\"a/b\":[\"v\"],\"role\":\"service_role\",\"user_metadata\":{}}",
		`{"sub":"s","iss":"","name":{"n":{ }},"groups":[],"email":false}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	signer, err := NewHMACSigner(bytes.Repeat([]byte("k"), 32), "")
	if err != nil {
		f.Fatal(err)
	}
	m, err := NewMinter(Config{Signer: signer, Issuer: "https://x.supabase.co/auth/v1", Audience: "authenticated"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		var p Payload
		if p.Decode(bytes.Clone(data)) != nil {
			return
		}
		mp := &mintMappings[int(pick)%len(mintMappings)]
		sub := p.Subject + fmt.Sprint(pick)
		want, err := m.payloadV1(&p, mp, sub, now, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got := m.appendClaims(nil, &p, mp.Compile(), sub, now, now.Add(time.Hour))
		if !bytes.Equal(got, want) {
			t.Fatalf("payload %q, mapping %d:\ngot  %s\nwant %s", data, int(pick)%len(mintMappings), got, want)
		}
	})
}
