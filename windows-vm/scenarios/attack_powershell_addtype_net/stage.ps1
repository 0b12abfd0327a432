# Second stage run by an -EncodedCommand powershell.exe: compiles C# in memory with Add-Type
# (CodeDom runs csc.exe on a temp .cmdline) and connects from this process to the 127.0.0.1 listener.
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
[Clab.Beacon]::Send('127.0.0.1', __PORT__, 'addtype')
