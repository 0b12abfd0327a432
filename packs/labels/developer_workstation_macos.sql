-- role: developer_workstation
-- platform: darwin
-- description: macOS developer workstations: Xcode, a JetBrains IDE, an SDK or the Command Line Tools on a
--   Mac that a person uses.
-- evidence: apps with bundle identifier com.apple.dt.Xcode or com.jetbrains.*; a VS Code language
--   extension (C#, C/C++, Go, Rust, Java, Python) in vscode_extensions; an SDK (/usr/local/go/bin/go,
--   /usr/local/share/dotnet/dotnet); or the Command Line Tools' compiler
--   (/Library/Developer/CommandLineTools/usr/bin/clang); and a person's account (uid 501 or above, home
--   under /Users, a login shell).
-- false_positives: A Mac where Homebrew installed the Command Line Tools for a non-developer.
-- tuning: Drop the Command Line Tools path if Homebrew is common outside engineering.
SELECT 1
WHERE EXISTS (
    SELECT 1 FROM apps WHERE bundle_identifier = 'com.apple.dt.Xcode' OR bundle_identifier LIKE 'com.jetbrains.%'
    UNION ALL
    SELECT 1 FROM vscode_extensions
    WHERE name IN ('ms-dotnettools.csharp', 'ms-vscode.cpptools', 'golang.go', 'rust-lang.rust-analyzer',
                   'redhat.java', 'ms-python.python')
    UNION ALL
    SELECT 1 FROM file
    WHERE path IN ('/usr/local/go/bin/go', '/usr/local/share/dotnet/dotnet',
                   '/Library/Developer/CommandLineTools/usr/bin/clang')
  )
  AND EXISTS (
    SELECT 1 FROM users WHERE uid >= 501 AND directory LIKE '/Users/%' AND shell NOT LIKE '%/false'
  );
