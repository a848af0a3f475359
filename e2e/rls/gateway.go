package rls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"supabridge/internal/postgrest"
)

// ErrUnauthorized is returned, before any SQL runs, for a missing-scheme,
// malformed, forged, expired or wrongly addressed token. PostgREST answers
// 401 in these cases.
var ErrUnauthorized = errors.New("rls: token refused")

// Beginner starts a transaction; *pgx.Conn and *pgxpool.Pool are Beginners.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Gateway applies a request's bearer token to the database the way
// PostgREST does. The zero value refuses every token (it has no secret).
type Gateway struct {
	// Secret is PostgREST's jwt-secret (PGRST_JWT_SECRET, which Supabase's
	// compose file sets to ${JWT_JWKS:-${JWT_SECRET}}): the legacy HS256
	// passphrase, or a JWK or JWK Set. Keys are chosen as PostgREST 13
	// chooses them (internal/postgrest): a token's kid must name a key, a
	// token without kid is tried against each, and the key type and alg
	// must fit the token's algorithm (oct for HS256).
	Secret []byte
	// Audience the token's aud must contain. Empty means "authenticated",
	// what GoTrue writes and supabridge mints by default.
	Audience string
	// AnonRole is the role of a request without a token, or with a token
	// that has no role claim. Empty means "anon".
	AnonRole string
	// DB is where requests run; connect it as the authenticator role.
	DB Beginner
	// Now is the clock used for exp; nil means time.Now.
	Now func() time.Time
}

// Session is what a request runs as: a role and the claims JSON that
// auth.jwt(), auth.uid() and friends read.
type Session struct {
	Role   string
	Claims string
}

// claims is the part of the payload the gateway checks itself; the whole
// payload is passed to the database as is.
type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
}

// Authorize turns an Authorization header value into the session the
// request runs as. An empty header is the anonymous role; anything else
// must be "Bearer <token>" with a token whose signature verifies against
// Secret by PostgREST's rules, with an unexpired exp and the audience. It
// touches no database.
func (g *Gateway) Authorize(authorization string) (Session, error) {
	anon := g.AnonRole
	if anon == "" {
		anon = "anon"
	}
	if authorization == "" {
		// PostgREST runs a request without a token as its anon role, with
		// that role as the only claim.
		body, err := json.Marshal(map[string]string{"role": anon})
		if err != nil {
			return Session{}, fmt.Errorf("rls: anon claims: %w", err)
		}
		return Session{Role: anon, Claims: string(body)}, nil
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" || strings.Contains(token, " ") {
		return Session{}, fmt.Errorf("%w: not a bearer token", ErrUnauthorized)
	}
	if len(g.Secret) == 0 {
		return Session{}, fmt.Errorf("%w: the gateway has no secret", ErrUnauthorized)
	}
	keys, err := postgrest.Parse(g.Secret)
	if err != nil {
		return Session{}, fmt.Errorf("%w: jwt-secret: %w", ErrUnauthorized, err)
	}
	// The signature first, by PostgREST's key selection; the payload is
	// handed over verbatim, as PostgREST hands over the claims it decoded.
	payload, err := keys.Verify(token)
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	audience := g.Audience
	if audience == "" {
		audience = "authenticated"
	}
	opts := []jwt.ParserOption{jwt.WithAudience(audience), jwt.WithExpirationRequired()}
	if g.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(g.Now))
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Session{}, fmt.Errorf("%w: %w: %w", ErrUnauthorized, jwt.ErrTokenMalformed, err)
	}
	if err := jwt.NewValidator(opts...).Validate(c); err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	role := c.Role
	if role == "" {
		role = anon
	}
	return Session{Role: role, Claims: string(payload)}, nil
}

// Do authorizes the request and runs fn in one transaction as its session:
// SET LOCAL ROLE <role claim>, then set_config('request.jwt.claims',
// <claims>, true), then fn. Both settings end with the transaction. A
// refused token returns ErrUnauthorized without starting a transaction.
// The transaction commits when fn returns nil and rolls back otherwise.
func (g *Gateway) Do(ctx context.Context, authorization string, fn func(ctx context.Context, tx pgx.Tx) error) (err error) {
	s, err := g.Authorize(authorization)
	if err != nil {
		return err
	}
	tx, err := g.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rls: begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The error that matters is fn's (or the commit's); a rollback
			// after a failed statement has nothing to add.
			_ = tx.Rollback(ctx)
		}
	}()
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{s.Role}.Sanitize()); err != nil {
		return fmt.Errorf("rls: set role: %w", err)
	}
	if _, err := tx.Exec(ctx, "select set_config('request.jwt.claims', $1, true)", s.Claims); err != nil {
		return fmt.Errorf("rls: set claims: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rls: commit: %w", err)
	}
	return nil
}
