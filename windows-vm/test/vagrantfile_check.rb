# frozen_string_literal: true
#
# Loads windows-vm/Vagrantfile with a fake Vagrant.configure that records every setting, then checks it.
# Runs without Vagrant, VirtualBox or the winrm gem (Debian's `vagrant validate` cannot load winrm).
# Usage: ruby windows-vm/test/vagrantfile_check.rb [path/to/Vagrantfile]
# Prints one line per check; exits 1 when any check fails. The last line is "N passed, M failed".

# Recorder stands in for every config object: any setter is recorded as (path, value);
# any getter returns a child recorder; blocks passed to provider/define are run on a child.
class Recorder
  attr_reader :path, :log

  def initialize(path, log)
    @path = path
    @log = log
  end

  def method_missing(name, *args, **kwargs, &block)
    key = name.to_s
    if key.end_with?("=")
      @log << { path: "#{@path}.#{key.chomp('=')}", value: args.first }
      return args.first
    end
    label = args.first.is_a?(String) || args.first.is_a?(Symbol) ? "(#{args.first})" : ""
    child = Recorder.new("#{@path}.#{key}#{label}", @log)
    unless args.empty? && kwargs.empty?
      @log << { path: "#{@path}.#{key}", args: args, kwargs: kwargs }
    end
    if block
      block.arity.zero? ? child.instance_eval(&block) : block.call(child, child)
    end
    child
  end

  def respond_to_missing?(_name, _include_private = false)
    true
  end
end

# Fake Vagrant module: configure yields a recorder.
module Vagrant
  @log = []
  class << self
    attr_reader :log

    def configure(_version)
      yield Recorder.new("config", @log)
    end

    def require_version(*_args); end

    def has_plugin?(_name)
      false
    end
  end
end

vagrantfile = File.expand_path(ARGV[0] || File.join(__dir__, "..", "Vagrantfile"))
here = File.dirname(vagrantfile)
load vagrantfile
log = Vagrant.log

results = []
check = lambda do |name, ok, detail = ""|
  results << ok
  puts "#{ok ? 'PASS' : 'FAIL'} #{name}#{detail.empty? ? '' : " (#{detail})"}"
end

value = ->(path) { log.reverse.find { |e| e[:path] == path && e.key?(:value) }&.fetch(:value) }

box = value.call("config.vm.box")
check.call("box set", box.is_a?(String) && box.include?("/"), box.inspect)
version = value.call("config.vm.box_version")
check.call("box version pinned to an exact version", version.is_a?(String) && version.match?(/\A\d+(\.\d+)+\z/),
           version.inspect)
check.call("guest is windows", value.call("config.vm.guest") == :windows)
check.call("communicator is winrm", value.call("config.vm.communicator").to_s == "winrm")

providers = log.select { |e| e[:path] == "config.vm.provider" }.map { |e| e[:args].first.to_s }
%w[virtualbox hyperv].each do |p|
  check.call("provider #{p} configured", providers.include?(p))
  mem = value.call("config.vm.provider(#{p}).memory")
  check.call("provider #{p} memory >= 4096 MB", mem.to_i >= 4096, mem.inspect)
  cpus = value.call("config.vm.provider(#{p}).cpus")
  check.call("provider #{p} cpus >= 4", cpus.to_i >= 4, cpus.inspect)
end

folders = log.select { |e| e[:path] == "config.vm.synced_folder" }
default_disabled = folders.any? { |f| f[:args][1] == "/vagrant" && f[:kwargs][:disabled] == true }
check.call("default /vagrant share disabled", default_disabled)
folders.reject { |f| f[:kwargs][:disabled] }.each do |f|
  src = File.expand_path(f[:args][0].to_s, here)
  guest = f[:args][1]
  if File.directory?(src)
    check.call("synced folder source exists: #{guest}", true, src)
  elsif f[:kwargs][:create] == true
    # Vagrant creates it on `vagrant up`; only its parent must exist (build/ appears after `make build`).
    check.call("synced folder source creatable: #{guest}", File.directory?(File.dirname(src)), src)
  else
    check.call("synced folder source exists: #{guest}", false, src)
  end
end
%w[build packs].each do |want|
  hit = folders.any? { |f| File.basename(File.expand_path(f[:args][0].to_s, here)) == want }
  check.call("#{want}/ is synced into the guest", hit)
end
check.call("windows-vm/ itself is synced into the guest",
           folders.any? { |f| File.expand_path(f[:args][0].to_s, here) == here })

provs = log.select { |e| e[:path] == "config.vm.provision" }
check.call("has shell provisioners", !provs.empty? && provs.all? { |p| p[:args].first.to_s == "shell" })
paths = provs.map { |p| p[:kwargs][:path].to_s }
paths.each do |p|
  full = File.expand_path(p, here)
  check.call("provision script exists: #{File.basename(p)}", File.file?(full), full)
end
check.call("provisioners are in order", paths.map { |p| File.basename(p) } == paths.map { |p| File.basename(p) }.sort)
check.call("provisioners run privileged", provs.all? { |p| p[:kwargs][:privileged] == true })

failed = results.count(false)
puts "#{results.count(true)} passed, #{failed} failed"
exit(failed.zero? ? 0 : 1)
