-- role: developer_workstation
-- platform: linux
-- description: Linux developer workstations: a desktop with an IDE, SDK or compiler toolchain and a person's
--   account.
-- evidence: A VS Code language extension (C#, C/C++, Go, Rust, Java, Python) in vscode_extensions; a
--   JetBrains IDE's plugins (jetbrains_plugins) or the JetBrains Toolbox in a home directory; an SDK
--   (/usr/local/go/bin/go from go.dev's tarball, /usr/bin/dotnet, /usr/share/dotnet/dotnet,
--   /usr/lib/dotnet/dotnet, ~/.cargo/bin/rustc from rustup); or a C toolchain (/usr/bin/gcc with
--   /usr/include/stdio.h, as build-essential installs); and a human account (uid 1000-59999, home under
--   /home, a login shell).
-- false_positives: A desktop where build-essential was installed for DKMS drivers (NVIDIA, VirtualBox)
--   lands here; so does a student's laptop with the Python extension.
-- tuning: Drop the C toolchain branch if desktops commonly carry build-essential for drivers.
SELECT 1
WHERE EXISTS (
    SELECT 1 FROM vscode_extensions
    WHERE name IN ('ms-dotnettools.csharp', 'ms-vscode.cpptools', 'golang.go', 'rust-lang.rust-analyzer',
                   'redhat.java', 'ms-python.python')
    UNION ALL
    SELECT 1 FROM jetbrains_plugins
    UNION ALL
    SELECT 1 FROM file
    WHERE path IN ('/usr/local/go/bin/go', '/usr/bin/dotnet', '/usr/share/dotnet/dotnet', '/usr/lib/dotnet/dotnet')
    UNION ALL
    SELECT 1 FROM file WHERE path LIKE '/home/%/.local/share/JetBrains/Toolbox/bin/jetbrains-toolbox'
    UNION ALL
    SELECT 1 FROM file WHERE path LIKE '/home/%/.cargo/bin/rustc'
    UNION ALL
    SELECT 1 FROM file WHERE path = '/usr/bin/gcc' AND EXISTS (SELECT 1 FROM file WHERE path = '/usr/include/stdio.h')
  )
  AND EXISTS (
    SELECT 1 FROM users
    WHERE uid BETWEEN 1000 AND 59999 AND directory LIKE '/home/%'
      AND shell NOT LIKE '%nologin' AND shell NOT LIKE '%/false'
  );
