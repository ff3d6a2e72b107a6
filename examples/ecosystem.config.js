// Run `spark monitor` under PM2, beside the platform it watches.
//
//   pm2 start examples/ecosystem.config.js                 # dev profile
//   pm2 start examples/ecosystem.config.js --env production
//   pm2 logs spark-monitor                                 # one line per cycle
//   pm2 save && pm2 startup                                # keep it across reboots
//
// `spark` must be on PM2's PATH (or give the full path of the virtualenv's bin/spark as `script`).
module.exports = {
  apps: [
    {
      name: "spark-monitor",
      script: "spark",
      args: ["monitor", "--interval", "30", "--listen", "127.0.0.1:9108"],
      interpreter: "none", // spark is an executable, not a Node.js script
      exec_mode: "fork",
      instances: 1, // one monitor per host: a second one could not bind the port anyway
      autorestart: true,
      // spark monitor stops within a second on SIGTERM or SIGINT and exits 0.
      kill_signal: "SIGTERM",
      kill_timeout: 5000,
      // Exit 2 is a configuration error (bad profile, port in use): restarting will not fix it.
      stop_exit_codes: [0, 2],
      min_uptime: "30s",
      max_restarts: 10,
      exp_backoff_restart_delay: 1000,
      max_memory_restart: "300M",
      time: true, // timestamps on the per-cycle log lines
      env: {
        SPARK_PROFILE: "dev",
      },
      env_production: {
        SPARK_PROFILE: "production",
        // To push each cycle to a Pushgateway too, set SPARK_PUSHGATEWAY here, e.g. to http://127.0.0.1:9091.
      },
    },
  ],
};
