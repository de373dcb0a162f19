/// The PowerShell script: a native argument completer that hands the words before the cursor to
/// `fluxs __completeNoDesc` (cobra's protocol, as flux's PowerShell completion; without descriptions) and turns its
/// directive into PowerShell's behaviour (no space, no file completion, file extensions, directories).
extension Completion {
    static func powershell(_ root: Command) -> String {
        let prog = root.name
        return """
        # powershell completion for \(prog)                       -*- shell-script -*-
        # Generated from fluxs's command table; candidates come from `\(prog) __completeNoDesc`.
        #
        # To load completions in the current session:  \(prog) completion powershell | Out-String | Invoke-Expression
        # To load them in every session, add that line to your PowerShell profile ($PROFILE).

        function __\(prog)_debug {
            if ($env:BASH_COMP_DEBUG_FILE) {
                "$args" | Out-File -Append -FilePath "$env:BASH_COMP_DEBUG_FILE"
            }
        }

        Register-ArgumentCompleter -CommandName '\(prog)' -ScriptBlock {
            param($WordToComplete, $CommandAst, $CursorPosition)

            # The command line up to the cursor, split as the shell split it.
            $Command = $CommandAst.CommandElements
            $Command = "$Command"
            if ($Command.Length -gt $CursorPosition) {
                $Command = $Command.Substring(0, $CursorPosition)
            }
            __\(prog)_debug "Command: $Command, word to complete: $WordToComplete"

            $Program, $Arguments = $Command.Split(" ", 2)
            # An empty last word when the cursor follows a space.
            if ($WordToComplete -eq "") { $Arguments = "$Arguments" + " ''" }
            $RequestComp = "$Program __completeNoDesc $Arguments"
            __\(prog)_debug "Calling $RequestComp"

            # Ask fluxs; its last line is the directive.
            $Out = Invoke-Expression -Command "$RequestComp" 2>$null
            if (-not $Out) { return }
            $Directive = [int]($Out[-1] -replace '^:', '')
            $Values = @($Out | Select-Object -SkipLast 1 | Where-Object { $_ -ne "" })
            __\(prog)_debug "Directive: $Directive, values: $($Values.Count)"

            $ShellCompDirectiveError = 1
            $ShellCompDirectiveNoSpace = 2
            $ShellCompDirectiveNoFileComp = 4
            $ShellCompDirectiveFilterFileExt = 8
            $ShellCompDirectiveFilterDirs = 16

            if (($Directive -band $ShellCompDirectiveError) -ne 0) { return }
            if (($Directive -band $ShellCompDirectiveFilterDirs) -ne 0) {
                Get-ChildItem -Directory -Path "$WordToComplete*" | ForEach-Object {
                    [System.Management.Automation.CompletionResult]::new($_.Name, $_.Name, 'ProviderContainer', $_.Name)
                }
                return
            }
            if (($Directive -band $ShellCompDirectiveFilterFileExt) -ne 0) {
                $Values | ForEach-Object {
                    Get-ChildItem -File -Path "$WordToComplete*.$_" | ForEach-Object {
                        [System.Management.Automation.CompletionResult]::new($_.Name, $_.Name, 'ProviderItem', $_.Name)
                    }
                }
                return
            }
            if ($Values.Count -eq 0 -and ($Directive -band $ShellCompDirectiveNoFileComp) -eq 0) {
                # Nothing from fluxs: let PowerShell complete file names.
                return $null
            }
            $Space = if (($Directive -band $ShellCompDirectiveNoSpace) -ne 0) { "" } else { " " }
            $Values | Where-Object { $_ -like "$WordToComplete*" } | ForEach-Object {
                $Text = "$_"
                if ($Text -match '[\\s`$&|;(){}<>,@#]') { $Text = "'" + ($Text -replace "'", "''") + "'" }
                [System.Management.Automation.CompletionResult]::new("$Text$Space", "$_", 'ParameterValue', "$_")
            }
        }

        """
    }
}
