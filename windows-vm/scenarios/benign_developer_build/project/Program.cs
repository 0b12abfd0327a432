using System;

namespace Hello
{
    internal static class Program
    {
        private static int Main()
        {
            Console.WriteLine("hello from a developer build");
            return 0;
        }
    }
}
