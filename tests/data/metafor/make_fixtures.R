# Reference numbers from R's metafor for fmreview's meta-analysis tests.
# Run from this directory:  Rscript make_fixtures.R   (apt-get install -y r-cran-metafor r-cran-metadat)
# Writes <name>.csv (the inputs) and expected.csv (long format: dataset, method, test, quantity, value).
suppressMessages(library(metafor))
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
out <- list()
put <- function(ds, method, test, q, v) {
  if (length(v) == 0) v <- NA
  out[[length(out) + 1]] <<- data.frame(dataset = ds, method = method, test = test, quantity = q,
                                        i = seq_along(v), value = sprintf("%.15g", as.numeric(v)))
}

datasets <- list()
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets$bcg <- data.frame(yi = bcg$yi, vi = bcg$vi, ablat = bcg$ablat, alloc = bcg$alloc, year = bcg$year,
                           tpos = dat.bcg$tpos, tneg = dat.bcg$tneg, cpos = dat.bcg$cpos, cneg = dat.bcg$cneg)
niel <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.nielweise2007)
datasets$nielweise <- data.frame(yi = niel$yi, vi = niel$vi, ai = dat.nielweise2007$ai,
                                 bi = dat.nielweise2007$n1i - dat.nielweise2007$ai, ci = dat.nielweise2007$ci,
                                 di = dat.nielweise2007$n2i - dat.nielweise2007$ci)
datasets$k2 <- datasets$bcg[1:2, c("yi", "vi")]
datasets$homog <- data.frame(yi = c(0.10, 0.12, 0.09, 0.11, 0.10), vi = c(0.05, 0.04, 0.06, 0.05, 0.03))
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
datasets$normand <- data.frame(yi = nor$yi, vi = nor$vi, m1i = dat.normand1999$m1i, sd1i = dat.normand1999$sd1i,
                               n1i = dat.normand1999$n1i, m2i = dat.normand1999$m2i,
                               sd2i = dat.normand1999$sd2i, n2i = dat.normand1999$n2i)
mcd <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.mcdaniel1994)
datasets$mcdaniel <- data.frame(yi = mcd$yi, vi = mcd$vi, ri = dat.mcdaniel1994$ri, ni = dat.mcdaniel1994$ni,
                                type = dat.mcdaniel1994$type)
pri <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.pritz1997)
datasets$pritz <- data.frame(yi = pri$yi, vi = pri$vi, xi = dat.pritz1997$xi, ni = dat.pritz1997$ni)

for (nm in names(datasets)) write.csv(datasets[[nm]], paste0(nm, ".csv"), row.names = FALSE)

# escalc for measures not used above (same inputs)
e <- escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg); put("bcg", "escalc", "OR", "yi", e$yi); put("bcg", "escalc", "OR", "vi", e$vi)
e <- escalc("RD", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg); put("bcg", "escalc", "RD", "yi", e$yi); put("bcg", "escalc", "RD", "vi", e$vi)
e <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999); put("normand", "escalc", "MD", "yi", e$yi); put("normand", "escalc", "MD", "vi", e$vi)
e <- escalc("ROM", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999); put("normand", "escalc", "ROM", "yi", e$yi); put("normand", "escalc", "ROM", "vi", e$vi)
e <- escalc("COR", ri = ri, ni = ni, data = dat.mcdaniel1994); put("mcdaniel", "escalc", "COR", "yi", e$yi); put("mcdaniel", "escalc", "COR", "vi", e$vi)
for (m in c("PR", "PAS", "PFT")) { e <- escalc(m, xi = xi, ni = ni, data = dat.pritz1997); put("pritz", "escalc", m, "yi", e$yi); put("pritz", "escalc", m, "vi", e$vi) }

methods <- c("EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (method in methods) for (test in c("z", "knha")) {
    if (nm == "k2" && test == "knha" && method == "EE") next
    fit <- try(rma(yi, vi, data = d, method = method, test = test, control = ctrl), silent = TRUE)
    if (inherits(fit, "try-error")) next
    pr <- predict(fit)
    for (q in c("beta", "se", "zval", "pval", "ci.lb", "ci.ub", "tau2", "se.tau2", "I2", "H2", "QE", "QEp"))
      put(nm, method, test, q, fit[[q]])
    put(nm, method, test, "pi.lb", pr$pi.lb); put(nm, method, test, "pi.ub", pr$pi.ub)
    if (method != "EE") {
      ci <- confint(fit, control = ctrl)
      put(nm, method, test, "tau2.lb", ci$random["tau^2", "ci.lb"]); put(nm, method, test, "tau2.ub", ci$random["tau^2", "ci.ub"])
    }
  }
}

# meta-regression: bcg with a continuous and a categorical moderator
for (method in c("REML", "DL", "ML", "PM")) for (test in c("z", "knha")) {
  fit <- rma(yi, vi, mods = ~ ablat + alloc, data = datasets$bcg, method = method, test = test, control = ctrl)
  for (j in seq_along(fit$beta)) { put("bcg-mods", method, test, paste0("beta", j), fit$beta[j]); put("bcg-mods", method, test, paste0("se", j), fit$se[j]); put("bcg-mods", method, test, paste0("pval", j), fit$pval[j]) }
  for (q in c("tau2", "QM", "QMp", "QE", "QEp", "R2", "I2")) put("bcg-mods", method, test, q, fit[[q]])
}

# subgroups (mcdaniel by interview type) and the test for subgroup differences (moderator model)
fit <- rma(yi, vi, mods = ~ type, data = datasets$mcdaniel, method = "REML", control = ctrl)
put("mcdaniel-by", "REML", "z", "QM", fit$QM); put("mcdaniel-by", "REML", "z", "QMp", fit$QMp)
for (lev in sort(unique(datasets$mcdaniel$type))) {
  sub <- rma(yi, vi, data = datasets$mcdaniel, subset = type == lev, method = "REML", control = ctrl)
  put("mcdaniel-by", "REML", "z", paste0("beta.", lev), sub$beta); put("mcdaniel-by", "REML", "z", paste0("tau2.", lev), sub$tau2)
}

# publication bias and sensitivity on bcg and normand
for (nm in c("bcg", "normand")) {
  fit <- rma(yi, vi, data = datasets[[nm]], method = "REML", control = ctrl)
  rt <- regtest(fit); put(nm, "REML", "z", "egger.z", rt$zval); put(nm, "REML", "z", "egger.p", rt$pval)
  rl <- regtest(fit, model = "lm"); put(nm, "REML", "z", "egger_lm.t", rl$zval); put(nm, "REML", "z", "egger_lm.p", rl$pval)
  rk <- ranktest(fit); put(nm, "REML", "z", "begg.tau", rk$tau); put(nm, "REML", "z", "begg.p", rk$pval)
  for (est in c("L0", "R0")) {
    tf <- trimfill(fit, estimator = est, control = ctrl)
    put(nm, "REML", "z", paste0("tf.", est, ".k0"), tf$k0); put(nm, "REML", "z", paste0("tf.", est, ".side"), ifelse(tf$side == "left", 0, 1))
    put(nm, "REML", "z", paste0("tf.", est, ".beta"), tf$beta); put(nm, "REML", "z", paste0("tf.", est, ".se"), tf$se); put(nm, "REML", "z", paste0("tf.", est, ".tau2"), tf$tau2)
  }
  l1 <- leave1out(fit, control = ctrl)
  put(nm, "REML", "z", "l1o.estimate", l1$estimate); put(nm, "REML", "z", "l1o.tau2", l1$tau2); put(nm, "REML", "z", "l1o.I2", l1$I2)
  cu <- cumul(fit)
  put(nm, "REML", "z", "cumul.estimate", cu$estimate); put(nm, "REML", "z", "cumul.tau2", cu$tau2)
  inf <- influence(fit)$inf
  put(nm, "REML", "z", "inf.rstudent", inf$rstudent); put(nm, "REML", "z", "inf.dffits", inf$dffits)
  put(nm, "REML", "z", "inf.cook", inf$cook.d); put(nm, "REML", "z", "inf.hat", inf$hat)
}
res <- do.call(rbind, out)
write.csv(res, "expected.csv", row.names = FALSE)
cat("metafor", as.character(packageVersion("metafor")), ":", nrow(res), "reference values\n")
