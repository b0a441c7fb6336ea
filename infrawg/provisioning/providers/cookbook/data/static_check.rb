# frozen_string_literal: true

# The static cookbook check (R14): loads a cookbook's metadata.rb, attributes/*.rb and
# recipes/default.rb against a stub of the Chef resource DSL and reports, as JSON on stdout,
# unknown resources, unknown properties and actions, missing templates and cookbook files,
# template variables nobody passes, node attributes that are not set, and notifications or
# subscriptions to resources the recipe does not declare. It is not a converge: nothing is
# installed, no guard or block runs, and the operators' Chef does the real work.
#
# Usage: ruby static_check.rb COOKBOOK_DIR
#
# The stub refuses to shell out, open, write or load files once the cookbook has been read
# (Kernel#system, backticks, exec, spawn, fork, open, require, IO/File/Dir writers raise). That
# is defence in depth, not a sandbox: what keeps tenant input from running is that infrawg's
# generator writes it only as literals, and the caller runs this with a timeout and an empty
# environment in a scratch directory.

require 'json'

module InfrawgStaticCheck
  COMMON = %w(action notifies subscribes only_if not_if ignore_failure retries retry_delay
              sensitive guard_interpreter compile_time).freeze
  FILE_PROPS = %w(path owner group mode backup atomic_update force_unlink manage_symlink_source
                  verify inherits rights deny_rights).freeze
  FILE_ACTIONS = %w(create create_if_missing delete touch).freeze
  RESOURCES = {
    'apt_update' => { actions: %w(periodic update), props: %w(frequency) },
    'package' => {
      actions: %w(install upgrade remove purge reconfig lock unlock),
      props: %w(package_name version options timeout source response_file
                response_file_variables overwrite_config_files),
    },
    'service' => {
      actions: %w(enable disable start stop restart reload mask unmask),
      props: %w(service_name pattern start_command stop_command status_command restart_command
                reload_command init_command supports priority timeout parameters run_levels
                user options),
    },
    'template' => { actions: FILE_ACTIONS, props: FILE_PROPS + %w(source cookbook variables local helpers helper) },
    'file' => { actions: FILE_ACTIONS, props: FILE_PROPS + %w(content checksum) },
    'cookbook_file' => { actions: FILE_ACTIONS, props: FILE_PROPS + %w(source cookbook) },
    'directory' => {
      actions: %w(create delete),
      props: %w(path owner group mode recursive inherits rights deny_rights),
    },
    'user' => {
      actions: %w(create remove modify manage lock unlock),
      props: %w(username comment uid gid home shell password system manage_home non_unique salt
                iterations force expire_date inactive),
    },
    'group' => {
      actions: %w(create remove modify manage),
      props: %w(group_name gid members excluded_members append system non_unique comment),
    },
    'execute' => {
      actions: %w(run),
      props: %w(command cwd environment user group creates returns timeout umask live_stream
                default_env password domain elevated input login),
    },
    'systemd_unit' => {
      actions: %w(create delete preset revert enable disable reenable mask unmask start stop
                  restart reload try_restart reload_or_restart reload_or_try_restart),
      props: %w(unit_name content user triggers_reload verify),
    },
    # From the firewall cookbook (`depends 'firewall'`), the rules a generated cookbook writes.
    'firewall' => {
      actions: %w(install restart disable flush save),
      props: %w(disabled enabled_zone log_level ipv6_enabled package_options),
    },
    'firewall_rule' => {
      actions: %w(create),
      props: %w(firewall_name command protocol direction logging source source_port interface
                port dest_port destination dest_interface position stateful redirect_port
                description include_comment raw notify_firewall),
    },
  }.freeze
  METADATA_FIELDS = %w(name maintainer maintainer_email license description long_description
                       version chef_version ohai_version source_url issues_url privacy).freeze
  AUTOMATIC = {
    'platform' => 'debian', 'platform_family' => 'debian', 'platform_version' => '12',
    'hostname' => 'node', 'fqdn' => 'node.example', 'ipaddress' => '192.0.2.10'
  }.freeze

  def self.plain(value)
    case value
    when Hash then value.to_h { |k, v| [k.to_s, plain(v)] }
    when Array then value.map { |v| plain(v) }
    when Symbol then ":#{value}"
    when String, Integer, Float, true, false, nil then value
    else value.to_s
    end
  end

  # Attribute precedence levels while attributes files are read: writes auto-vivify.
  class Tree < Hash
    def [](key)
      key = key.to_s
      fetch(key) { store(key, Tree.new) }
    end

    def []=(key, value)
      super(key.to_s, value)
    end
  end

  # The node as recipes see it: read-only, and a read of a key nobody set is reported.
  class NodeView < BasicObject
    def initialize(data, path, check)
      @data = data
      @path = path
      @check = check
    end

    def [](key)
      key = key.to_s
      unless @data.key?(key)
        @check.problem("node#{@path}['#{key}'] is not set in attributes/")
        return nil
      end
      value = @data[key]
      value.is_a?(::Hash) ? NodeView.new(value, "#{@path}['#{key}']", @check) : value
    end

    def to_h
      @data
    end

    def method_missing(name, *_args)
      @check.problem("node.#{name} is not available to a statically checked recipe")
      nil
    end

    def respond_to_missing?(*)
      false
    end
  end

  # One declared resource; every call in its block is a property, an action or a notification.
  class Resource < BasicObject
    attr_reader :__type, :__name, :__file, :__line, :__props, :__actions, :__notifications

    def initialize(check, type, name, at)
      @check = check
      @__type = type
      @__name = name
      @__file, @__line = at
      @__props = {}
      @__actions = []
      @__notifications = []
    end

    def node
      @check.node
    end

    def action(*actions)
      @__actions.concat(actions.flatten)
    end

    def notifies(action, target, timing = :delayed)
      @__notifications << ['notifies', action, target, timing, @__file, @check.line]
    end

    def subscribes(action, target, timing = :delayed)
      @__notifications << ['subscribes', action, target, timing, @__file, @check.line]
    end

    def only_if(*args)
      @__props['only_if'] = args.empty? ? '(block, not run here)' : args
    end

    def not_if(*args)
      @__props['not_if'] = args.empty? ? '(block, not run here)' : args
    end

    def method_missing(name, *args, &block)
      prop = name.to_s
      unless RESOURCES.fetch(@__type)[:props].include?(prop) || COMMON.include?(prop)
        @check.problem("#{@__type}[#{@__name}] has no property '#{prop}'")
        return nil
      end
      return @__props[prop] if args.empty? && block.nil?

      @__props[prop] = if block
                         '(block, not run here)'
                       elsif args.length == 1
                         args.first
                       else
                         args
                       end
    end

    def respond_to_missing?(*)
      true
    end
  end

  # self in a recipe: resources by name, a few helpers, anything else reported.
  class Recipe < BasicObject
    def initialize(check)
      @check = check
    end

    def node
      @check.node
    end

    def platform?(*names)
      names.flatten.map(&:to_s).include?(AUTOMATIC['platform'])
    end

    def platform_family?(*names)
      names.flatten.map(&:to_s).include?(AUTOMATIC['platform_family'])
    end

    def include_recipe(name)
      @check.include_recipe(name.to_s)
    end

    def method_missing(name, *args, &block)
      type = name.to_s
      return @check.declare(type, args, block) if RESOURCES.key?(type)

      @check.problem("unknown resource or method '#{type}'")
      nil
    end

    def respond_to_missing?(*)
      true
    end
  end

  # self in attributes files.
  class Attributes < BasicObject
    def initialize(check, levels)
      @check = check
      @levels = levels
    end

    %w(default override normal force_default force_override).each do |level|
      define_method(level) { @levels[level] }
    end

    def method_missing(name, *_args)
      @check.problem("unknown method '#{name}' in an attributes file")
      nil
    end

    def respond_to_missing?(*)
      true
    end
  end

  # self in metadata.rb: the fields Chef knows, collected.
  class Metadata < BasicObject
    def initialize(check, fields)
      @check = check
      @fields = fields
    end

    METADATA_FIELDS.each do |field|
      define_method(field) { |value| @fields[field] = value }
    end

    def supports(platform, constraint = nil)
      (@fields['supports'] ||= []) << [platform, constraint].compact
    end

    def depends(cookbook, constraint = nil)
      (@fields['depends'] ||= []) << [cookbook, constraint].compact
    end

    def method_missing(name, *_args)
      @check.problem("metadata.rb: unknown field '#{name}'")
      nil
    end

    def respond_to_missing?(*)
      true
    end
  end

  class Check
    attr_reader :problems

    def initialize(root)
      @root = root
      @problems = []
      @file = nil
      @sources = {}
      Dir.chdir(root) do
        Dir.glob('**/*', File::FNM_DOTMATCH).sort.each do |path|
          @sources[path] = File.read(path, encoding: 'UTF-8') if File.file?(path)
        end
      end
      @resources = []
      @loaded = []
      @fields = {}
      @levels = Hash.new { |h, k| h[k] = Tree.new }
    end

    def line
      loc = caller_locations.find { |l| l.path == @file }
      loc&.lineno
    end

    def problem(message, file: @file, line: self.line)
      @problems << { 'file' => file, 'line' => line, 'message' => message }
    end

    def node
      @node ||= NodeView.new(AUTOMATIC.merge(merged), '', self)
    end

    def merged
      %w(default force_default normal override force_override).reduce({}) do |acc, level|
        deep_merge(acc, @levels.fetch(level, {}))
      end
    end

    def deep_merge(base, top)
      base.merge(top) { |_k, a, b| a.is_a?(Hash) && b.is_a?(Hash) ? deep_merge(a, b) : b }
    end

    def cookbook
      @fields['name'].to_s
    end

    def evaluate(path, context)
      source = @sources[path]
      return problem("#{path} is missing", file: path, line: nil) if source.nil?

      @file = path
      context.instance_eval(source, path, 1)
    rescue ::SyntaxError => e
      problem("syntax error: #{e.message.lines.first.to_s.strip}", line: e.message[/:(\d+):/, 1]&.to_i)
    rescue ::SecurityError, ::StandardError, ::ScriptError, ::SystemExit => e
      loc = (e.backtrace_locations || []).find { |l| l.path == path }
      problem("#{e.class}: #{e.message}", line: loc&.lineno)
    ensure
      @file = nil
    end

    def declare(type, args, block)
      name = args.first
      name = name.join(', ') if name.is_a?(Array)
      resource = Resource.new(self, type, name.to_s, [@file, line])
      problem("#{type} needs a name") if args.empty?
      resource.instance_eval(&block) if block
      @resources << resource
      nil
    end

    def include_recipe(name)
      cookbook_name, recipe = name.split('::', 2)
      return if cookbook_name != cookbook # another cookbook's recipe: not checked here

      path = "recipes/#{recipe || 'default'}.rb"
      return if @loaded.include?(path)

      @loaded << path
      file = @file
      evaluate(path, Recipe.new(self))
      @file = file
    end

    def run
      evaluate('metadata.rb', Metadata.new(self, @fields))
      attribute_files = @sources.keys.grep(%r{\Aattributes/[^/]+\.rb\z}).sort_by { |p| [p == 'attributes/default.rb' ? 0 : 1, p] }
      attribute_files.each { |path| evaluate(path, Attributes.new(self, @levels)) }
      @loaded << 'recipes/default.rb'
      evaluate('recipes/default.rb', Recipe.new(self))
      check_resources
      report
    end

    def key(resource)
      "#{resource.__type}[#{resource.__name}]"
    end

    def check_resources
      declared = @resources.to_h { |r| [key(r), r] }
      @resources.each do |r|
        at = { file: r.__file, line: r.__line }
        known = RESOURCES.fetch(r.__type)[:actions] + %w(nothing)
        r.__actions.each do |a|
          problem("#{key(r)} has no action :#{a}", **at) unless known.include?(a.to_s)
        end
        check_source(r, at) if %w(template cookbook_file).include?(r.__type)
        r.__notifications.each { |n| check_notification(r, n, declared) }
      end
    end

    def check_source(resource, at)
      props = resource.__props
      return if props['local'] || (props['cookbook'] && props['cookbook'].to_s != cookbook)

      path = props['path'] || resource.__name
      default = File.basename(path.to_s) + (resource.__type == 'template' ? '.erb' : '')
      source = props['source'] || default
      folder = resource.__type == 'template' ? 'templates' : 'files'
      found = ["#{folder}/#{source}", "#{folder}/default/#{source}"].find { |p| @sources.key?(p) }
      unless found
        return problem("#{key(resource)}: #{folder}/#{source} does not exist in the cookbook", **at)
      end
      return unless resource.__type == 'template'

      passed = (props['variables'].is_a?(Hash) ? props['variables'].keys : []).map(&:to_s)
      used = @sources[found].scan(/<%[^%].*?%>/m).join.scan(/@([a-z_][a-zA-Z0-9_]*)/).flatten.uniq
      (used - passed).each do |var|
        problem("#{found} uses @#{var} but #{key(resource)} passes no variable '#{var}'", **at)
      end
    end

    def check_notification(resource, notification, declared)
      kind, action, target, timing, file, line = notification
      at = { file: file, line: line }
      target = target.map { |t, n| "#{t}[#{n}]" }.first if target.is_a?(Hash)
      unless declared.key?(target.to_s)
        return problem("#{key(resource)} #{kind} #{target}, which the recipe does not declare", **at)
      end

      other = declared.fetch(target.to_s)
      actor = kind == 'notifies' ? other : resource
      unless (RESOURCES.fetch(actor.__type)[:actions] + %w(nothing)).include?(action.to_s)
        problem("#{key(resource)} #{kind} :#{action} on #{key(actor)}, which has no such action", **at)
      end
      return if %w(delayed immediately immediate before).include?(timing.to_s)

      problem("#{key(resource)} #{kind} with an unknown timing :#{timing}", **at)
    end

    def printed(resource)
      variables = resource.__props['variables']
      return {} unless resource.__type == 'template' && variables.is_a?(Hash)

      variables.to_h do |k, v|
        case v
        when NodeView then [k.to_s, v.to_h.to_s]
        else [k.to_s, v.to_s]
        end
      end
    end

    def report
      {
        'problems' => @problems,
        'metadata' => InfrawgStaticCheck.plain(@fields),
        'attributes' => InfrawgStaticCheck.plain(merged),
        'resources' => @resources.map do |r|
          {
            'type' => r.__type,
            'name' => r.__name,
            'file' => r.__file,
            'line' => r.__line,
            'actions' => r.__actions.map(&:to_s),
            'properties' => InfrawgStaticCheck.plain(r.__props),
            'notifications' => r.__notifications.map { |n| InfrawgStaticCheck.plain(n[0..3]) },
            # How ERB would print each template variable (Ruby's to_s), for previews.
            'printed' => printed(r),
          }
        end,
      }
    end
  end

  BLOCKED = {
    Kernel => %i(system exec spawn fork ` open syscall require require_relative load autoload eval
                 exit! abort trap sleep),
    IO.singleton_class => %i(popen sysopen write binwrite open new read readlines foreach copy_stream),
    File.singleton_class => %i(write binwrite open new delete unlink rename chmod chown lchmod
                               lchown symlink link truncate mkfifo read readlines foreach utime),
    Dir.singleton_class => %i(mkdir rmdir delete unlink chdir chroot),
    Process.singleton_class => %i(spawn exec fork kill daemon setsid),
  }.freeze

  def self.lock_down!
    $VERBOSE = nil # redefining Kernel's methods is the point; no warnings about it
    BLOCKED.each do |mod, names|
      targets = mod == Kernel ? [Kernel, Kernel.singleton_class] : [mod]
      targets.each do |target|
        names.each do |name|
          target.send(:define_method, name) do |*_args, **_kw, &_block|
            raise SecurityError, "#{name} is refused by the static cookbook check"
          end
        end
      end
    end
  end
end

check = InfrawgStaticCheck::Check.new(ARGV.fetch(0))
# The report goes out on a copy of stdout; what a recipe prints goes nowhere.
out = $stdout.dup
$stdout.reopen(File::NULL, 'w')
InfrawgStaticCheck.lock_down!
out.write(JSON.generate(check.run))
out.write("\n")
