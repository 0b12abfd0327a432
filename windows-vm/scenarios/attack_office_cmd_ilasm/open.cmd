@echo off
rem Dropped by the "document": assemble the IL with ilasm /exe and run the result.
"__ILASM__" /exe /quiet /output=__DIR__\invoice.exe __DIR__\invoice.il
if errorlevel 1 exit /b 1
__DIR__\invoice.exe
