namespace Agent
{
    public static class Version
    {
        public static string Current()
        {
            return "1.0.0";
        }
    }
}
