; Definitions, bases, call sites and imports for Scala, read by indexer/extract/tagged.py (capture names there).
; Objects and traits are types; packages are no symbols. `new T(...)` and `f(...)` are calls; a method
; called without parentheses (`name.trim`) is a field access in the tree, and not recorded.

(class_definition name: (_) @name body: (_)? @body) @definition.type
(object_definition name: (_) @name body: (_)? @body) @definition.type
(trait_definition name: (_) @name body: (_)? @body) @definition.type
(enum_definition name: (_) @name body: (_)? @body) @definition.type
(function_definition name: (_) @name body: (_)? @body) @definition.callable

(class_definition extend: (extends_clause [(type_identifier) (generic_type) (stable_type_identifier)] @base)) @bases
(object_definition extend: (extends_clause [(type_identifier) (generic_type) (stable_type_identifier)] @base)) @bases
(trait_definition extend: (extends_clause [(type_identifier) (generic_type) (stable_type_identifier)] @base)) @bases

(call_expression function: (_) @callee) @call
(instance_expression . (_) @callee) @call

; Each segment of an import's path is a child of its own: @import.paths joins them.
(import_declaration) @import @import.paths
(import_declaration (namespace_selectors [
  (identifier) @import.name
  (arrow_renamed_identifier name: (_) @import.name)
])) @import @import.paths
