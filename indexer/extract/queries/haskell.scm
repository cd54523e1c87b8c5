; Definitions, call sites and imports for Haskell, read by indexer/extract/tagged.py (capture names there).
; Top-level functions (each clause a `function` node: one symbol) and bindings; data, newtype, type synonyms
; and type classes are types; the functions of an `instance C T` are methods of T. A call is a function
; applied to arguments (the innermost `apply` holds the function).

(declarations (function name: (variable) @name match: (_) @body) @definition.callable)
(declarations (bind name: (variable) @name match: (_) @body) @definition.callable)
(data_type name: (name) @name) @definition.type
(newtype name: (name) @name) @definition.type
(type_synonym name: (name) @name) @definition.type
(class name: (name) @name declarations: (_)? @body) @definition.type
(class declarations: (class_declarations (function name: (variable) @name) @definition.callable))
(instance patterns: (type_patterns . [
  (name) @name
  (parens type: (apply constructor: (name) @name))
  (parens type: (apply constructor: (apply constructor: (name) @name)))
  (parens type: (apply constructor: (apply constructor: (apply constructor: (name) @name))))
]) declarations: (_) @body) @definition.impl
(instance declarations: (instance_declarations [(function name: (variable) @name) (bind name: (variable) @name)] @definition.callable))

(apply function: [(variable) (constructor) (qualified)] @callee) @call

(import module: (module) @import.module) @import
(import module: (module) @import.module alias: (module) @import.alias) @import
(import module: (module) @import.module names: (import_list (import_name [(variable) (name)] @import.name))) @import
