; Definitions, call sites, imports and module-level names for Rust.
; Capture names are read by indexer/extract/generic.py: @definition, @call, @local, @field, @import, @module_name.
; `impl` blocks are captured as definitions too: they name the type their methods belong to.

(struct_item) @definition
(enum_item) @definition
(union_item) @definition
(trait_item) @definition
(mod_item body: (_)) @definition
(impl_item) @definition
(function_item) @definition

(call_expression) @call

(use_declaration) @import
(mod_item !body) @import

(source_file (const_item name: (identifier) @module_name))
(source_file (static_item name: (identifier) @module_name))

; Local variables whose declaration writes or makes their type: calls on them resolve to its methods.
(let_declaration) @local

; A struct's fields and their types: `self.pool.get()` in its impl resolves to the field type's methods.
(field_declaration) @field
; A tuple struct's fields are named by position: `self.0.pos()` in `struct Locs(Slots);` is a Slots method.
(struct_item body: (ordered_field_declaration_list) @field)
