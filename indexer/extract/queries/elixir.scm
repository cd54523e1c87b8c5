; Definitions, call sites and imports for Elixir, read by indexer/extract/tagged.py (capture names there).
; Everything is a call in the grammar: `defmodule`, `def`, `alias` are told apart by the name they call.
; A module is a type (its functions are called as `Module.function`); the clauses of a function are one
; symbol; the head of a `def` (@head) is no call.

(call target: (identifier) @_def (#match? @_def "^(defmodule|defprotocol)$")
  (arguments . (alias) @name) (do_block)? @body) @definition.type
(call target: (identifier) @_def (#eq? @_def "defimpl")
  (arguments . (alias) @_protocol (keywords (pair key: (keyword) @_for (#match? @_for "^for") value: (alias) @name)))
  (do_block)? @body) @definition.impl
(call target: (identifier) @_def (#match? @_def "^(def|defp|defmacro|defmacrop|defguard|defguardp|defdelegate)$")
  (arguments . [
    (identifier) @name
    (call target: (identifier) @name) @head
    (binary_operator left: (call target: (identifier) @name) @head)
  ]) (do_block)? @body) @definition.callable

(call target: (dot left: (_) @call.receiver right: (identifier) @call.name)) @call
(call target: (identifier) @call.name
  (#not-match? @call.name "^(def|defp|defmodule|defprotocol|defimpl|defmacrop?|defguardp?|defdelegate|defstruct|defexception)$")
  (#not-match? @call.name "^(alias|import|require|use|moduledoc|doc|typedoc|spec|typep?|opaque|callback|impl|behaviour)$")
  (#not-match? @call.name "^(case|cond|if|unless|with|for|receive|try|quote|unquote|unquote_splicing)$")) @call

(call target: (identifier) @_import (#match? @_import "^(alias|import|require|use)$")
  (arguments . (alias) @import.module)) @import
(call target: (identifier) @_import (#eq? @_import "alias")
  (arguments . (alias) @import.module
    (keywords (pair key: (keyword) @_as (#match? @_as "^as") value: (alias) @import.alias)))) @import
