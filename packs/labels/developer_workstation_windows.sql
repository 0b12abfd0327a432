-- role: developer_workstation
-- platform: windows
-- description: Windows developer workstations: an IDE or SDK installed on a host that people log on to.
-- evidence: Programs (the uninstall registry) listing Visual Studio Community, Professional or Enterprise
--   (the Visual Studio Installer registers the edition once a workload is installed; Build Tools alone do
--   not count), a JetBrains IDE (publisher "JetBrains s.r.o."), the .NET SDK ("Microsoft .NET SDK ..."), or
--   Go ("Go Programming Language ..."); or a VS Code language extension (C#, C/C++, Go, Rust, Java,
--   Python) in vscode_extensions; and a human account: a profile under C:\Users with a domain or local SID
--   (S-1-5-21-...) other than the built-in Administrator, Guest, DefaultAccount and WDAGUtilityAccount.
-- false_positives: An office PC where someone installed VS Code with the Python extension for scripting;
--   a jump host with Visual Studio for debugging. Servers and build agents never land here (they come
--   first).
-- tuning: Tighten to Visual Studio and JetBrains only by removing the vscode_extensions branch; add in-house
--   SDKs to the programs list.
SELECT 1
WHERE EXISTS (
    SELECT 1 FROM programs
    WHERE name LIKE 'Visual Studio Community 20%' OR name LIKE 'Visual Studio Professional 20%'
       OR name LIKE 'Visual Studio Enterprise 20%' OR name LIKE 'Microsoft .NET SDK %'
       OR name LIKE 'Go Programming Language %' OR publisher = 'JetBrains s.r.o.'
    UNION ALL
    SELECT 1 FROM vscode_extensions
    WHERE name IN ('ms-dotnettools.csharp', 'ms-vscode.cpptools', 'golang.go', 'rust-lang.rust-analyzer',
                   'redhat.java', 'ms-python.python')
  )
  AND EXISTS (
    SELECT 1 FROM users
    WHERE directory LIKE 'C:\Users\%' AND uuid LIKE 'S-1-5-21-%'
      AND uuid NOT LIKE '%-500' AND uuid NOT LIKE '%-501' AND uuid NOT LIKE '%-503' AND uuid NOT LIKE '%-504'
  );
