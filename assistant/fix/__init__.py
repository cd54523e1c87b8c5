"""`assist fix`: run the tests, localize the failure with the code graph, ask a model for edits, apply them
safely and re-run until green. See README.md in this folder for what each module does; nothing is imported
here so that importing one submodule stays cheap."""
