Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Runs through -EncodedCommand, so there is no file for a self-check: provision/00-syntax-check.ps1 parses it.
# Second stage: compiles C# in memory with Add-Type (CodeDom runs csc.exe on a temp .cmdline) and connects
# from this process to the scenario listener on 127.0.0.1 (port from CLAB_PORT, set by run.ps1).
$port = [int]$env:CLAB_PORT
$src = @'
using System;
using System.Net.Sockets;
using System.Text;

namespace Clab
{
    public static class Beacon
    {
        public static void Send(string host, int port, string tag)
        {
            if (host != "127.0.0.1") { throw new ArgumentException("loopback only"); }
            using (TcpClient c = new TcpClient())
            {
                c.Connect(host, port);
                byte[] line = Encoding.ASCII.GetBytes(tag + " " + Environment.MachineName + "\n");
                c.GetStream().Write(line, 0, line.Length);
            }
        }
    }
}
'@
Add-Type -TypeDefinition $src -Language CSharp
[Clab.Beacon]::Send('127.0.0.1', $port, 'addtype')
