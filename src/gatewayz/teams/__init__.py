"""Teams (organisations): members with a team role, a shared credit pool, team keys, invitations."""
