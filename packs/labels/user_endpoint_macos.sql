-- role: user_endpoint
-- platform: darwin
-- description: macOS user endpoints: a Mac that is none of the roles above (no CI agent, no server daemon
--   listening, no developer tools).
-- evidence: Every other role's evidence absent (every Mac runs a client edition of macOS).
-- false_positives: A developer Mac whose tools the developer label does not know lands here.
-- tuning: Extend the developer label rather than this one.
SELECT 1 FROM os_version WHERE platform = 'darwin';
