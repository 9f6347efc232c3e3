package fakeslack

import (
	"slices"
	"strings"
)

// User is a person of the simulated workspace.
type User struct {
	ID    string `json:"id"`              // U... or W...
	Name  string `json:"name"`            // the display name, shown as @Name
	Title string `json:"title,omitempty"` // a profile title such as "operator"; the page shows it
}

// SetUser adds u to the workspace, or replaces the user with its ID.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setUserLocked(u)
}

func (s *Server) setUserLocked(u User) {
	if _, known := s.users[u.ID]; !known {
		s.userOrder = append(s.userOrder, u.ID)
	}
	s.users[u.ID] = u
}

// Users lists the workspace's people in the order they were added.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, s.users[id])
	}
	return out
}

// userNameLocked is id's display name, or one made up from the ID.
func (s *Server) userNameLocked(id string) string {
	if u, ok := s.users[id]; ok && u.Name != "" {
		return u.Name
	}
	return nameFor(id, DefaultUserID, DefaultUserName)
}

// nameFor invents a user or channel name for an id that has none.
func nameFor(id, defID, defName string) string {
	if id == defID {
		return defName
	}
	return strings.ToLower(id)
}

// SetUserGroup defines (or replaces) the members usergroups.users.list returns for id.
// Unknown ids answer no_such_subteam.
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
}
