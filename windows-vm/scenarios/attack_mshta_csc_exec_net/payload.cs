// Test payload for the compile-lineage VM: connects to the scenario's listener on 127.0.0.1 and says who it is.
// It refuses any other address, so the scenario never talks to the network outside the VM.
using System;
using System.Net.Sockets;
using System.Text;

class Beacon
{
    static int Main(string[] args)
    {
        string host = args.Length > 0 ? args[0] : "127.0.0.1";
        int port = args.Length > 1 ? int.Parse(args[1]) : 38471;
        string tag = args.Length > 2 ? args[2] : "payload";
        if (host != "127.0.0.1")
        {
            return 2;
        }
        using (TcpClient c = new TcpClient())
        {
            c.Connect(host, port);
            byte[] line = Encoding.ASCII.GetBytes(tag + " " + Environment.MachineName + "\n");
            c.GetStream().Write(line, 0, line.Length);
        }
        return 0;
    }
}
