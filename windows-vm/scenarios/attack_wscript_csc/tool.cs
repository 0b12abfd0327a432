// Test tool for the compile-lineage VM: writes <exe>.txt next to itself and exits. No network.
using System.IO;
using System.Reflection;

class Tool
{
    static int Main(string[] args)
    {
        string exe = Assembly.GetExecutingAssembly().Location;
        File.WriteAllText(Path.ChangeExtension(exe, ".txt"), args.Length > 0 ? args[0] : "tool");
        return 0;
    }
}
