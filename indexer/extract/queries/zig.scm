; Definitions, call sites and imports for Zig, read by indexer/extract/tagged.py (capture names there).
; A container is a value bound to a name: `const Greeter = struct { ... }` is the type Greeter.
; `const x = @import("file.zig")` is an import that `x` names.

(variable_declaration (identifier) @name
  [(struct_declaration) (enum_declaration) (union_declaration) (opaque_declaration)] @body) @definition.type
(function_declaration name: (identifier) @name body: (_)? @body) @definition.callable

(call_expression function: (_) @callee) @call

(variable_declaration (identifier) @import.alias
  (builtin_function (builtin_identifier) @_import (#eq? @_import "@import")
    (arguments . (string (string_content) @import.module)))) @import
