' Test tool for the compile-lineage VM: writes <exe>.txt next to itself and exits. No network.
Module Helper
    Function Main(ByVal args As String()) As Integer
        Dim exe As String = System.Reflection.Assembly.GetExecutingAssembly().Location
        Dim tag As String = "helper"
        If args.Length > 0 Then tag = args(0)
        System.IO.File.WriteAllText(System.IO.Path.ChangeExtension(exe, ".txt"), tag)
        Return 0
    End Function
End Module
