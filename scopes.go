package keyward

import (
	"strings"

	"github.com/keyward/keyward/glob"
)

// MaxScopeItems bounds the models, and separately the routes, of one key's
// scopes.
const MaxScopeItems = 100

// Validate reports why s cannot be stored (an EINVALID error), or nil. The
// core, the CLI and the Pulumi provider all check scopes with it; the
// gateway matches them with glob.Scopes.
func (s Scopes) Validate() error {
	if len(s.Models) > MaxScopeItems || len(s.Routes) > MaxScopeItems {
		return Errorf(EINVALID, "at most %d models and %d routes in scopes", MaxScopeItems, MaxScopeItems)
	}
	for _, m := range s.Models {
		if err := ValidateModelPattern(m); err != nil {
			return err
		}
	}
	for _, r := range s.Routes {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// ValidateModelPattern reports why m cannot be a model scope, or nil.
func ValidateModelPattern(m string) error {
	if err := glob.Valid(m); err != nil {
		return Errorf(EINVALID, "scope model %v", err)
	}
	return nil
}

// Validate reports why r cannot be a route scope, or nil: the method is "*"
// or 1-16 upper-case letters, the path a pattern starting with "/".
func (r RoutePattern) Validate() error {
	if r.Method != "*" && !httpMethod(r.Method) {
		return Errorf(EINVALID, "scope route method must be an upper-case HTTP method or *")
	}
	if !strings.HasPrefix(r.Path, "/") {
		return Errorf(EINVALID, "scope route path must start with /")
	}
	if err := glob.Valid(r.Path); err != nil {
		return Errorf(EINVALID, "scope route path %v", err)
	}
	return nil
}

func httpMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// Matches reports whether r admits a request: the method compared without
// regard to case (as HTTP methods arrive in any case from some clients),
// the path as a scope glob. Route scopes and route throttles both match
// this way.
func (r RoutePattern) Matches(method, path string) bool {
	return (r.Method == "*" || strings.EqualFold(r.Method, method)) && glob.Scopes.Match(r.Path, path)
}

// routeKeyMethods are the methods a route throttle key may name; "*" and
// "ANY" are any method.
var routeKeyMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "*": true, "ANY": true,
}

// ParseRouteKey reads a usage plan's route throttle key, written as API
// Gateway writes them: a path then the method, "/v1/chat/completions/POST"
// or "/v1/*/*". The method is the last segment, in any case; "ANY" is "*".
// A key whose last segment is not a method ("/v1/chat/completions", which
// would otherwise be read as the method COMPLETIONS) is refused.
func ParseRouteKey(k string) (RoutePattern, error) {
	i := strings.LastIndexByte(k, '/')
	if i <= 0 {
		return RoutePattern{}, Errorf(EINVALID, "route throttle %q must be a path and a method, such as /v1/chat/completions/POST", k)
	}
	method := strings.ToUpper(k[i+1:])
	if !routeKeyMethods[method] {
		return RoutePattern{}, Errorf(EINVALID, "route throttle %q must end with a method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, * or ANY), such as /v1/chat/completions/POST", k)
	}
	if method == "ANY" {
		method = "*"
	}
	r := RoutePattern{Method: method, Path: k[:i]}
	if err := r.Validate(); err != nil {
		return RoutePattern{}, err
	}
	return r, nil
}
