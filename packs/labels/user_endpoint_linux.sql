-- role: user_endpoint
-- platform: linux
-- description: Linux user endpoints: a desktop that is none of the roles above (no CI agent, no server
--   daemon listening, no developer tools).
-- evidence: Every other role's evidence absent. A host without a desktop is a server (see server_linux),
--   so what remains has one.
-- false_positives: A developer desktop whose tools the developer label does not know lands here.
-- tuning: Extend the developer or server label rather than this one.
SELECT 1 FROM os_version;
