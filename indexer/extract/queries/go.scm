; Definitions, call sites, imports and module-level names for Go.
; Capture names are read by indexer/extract/generic.py: @definition, @call, @local, @field, @import, @module_name.

(type_spec) @definition
(type_alias) @definition
(function_declaration) @definition
(method_declaration) @definition

(call_expression) @call

(import_spec) @import

(source_file (var_declaration (var_spec name: (identifier) @module_name)))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @module_name))))
(source_file (const_declaration (const_spec name: (identifier) @module_name)))

; Local variables whose declaration writes or makes their type: calls on them resolve to its methods.
(short_var_declaration) @local
(var_spec) @local

; A struct's named fields and their types: `s.pool.Get()` in its methods resolves to the field type's methods.
(field_declaration) @field
