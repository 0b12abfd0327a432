-- role: domain_controller
-- platform: windows
-- description: Windows domain controllers: hosts that run Active Directory Domain Services (AD DS).
-- evidence: The NTDS service (display name "Active Directory Domain Services"), which exists only once a
--   server is promoted (Install-ADDSDomainController, dcpromo), or the DirectoryServices-DomainController
--   optional feature enabled (the DISM feature behind Server Manager's AD-Domain-Services role, listed by
--   Win32_OptionalFeature, which osquery's windows_optional_features reads).
-- false_positives: A server with the AD DS role installed but not promoted yet (it is a domain controller
--   in the making); a demoted domain controller keeps the feature until it is removed.
-- tuning: Nothing to tune for NTDS. To count only promoted domain controllers, drop the
--   windows_optional_features branch. Read-only domain controllers are domain controllers here too.
SELECT 1 FROM services WHERE name = 'NTDS'
UNION ALL
SELECT 1 FROM windows_optional_features WHERE name = 'DirectoryServices-DomainController' AND state = 1;
