# Reference numbers from R's metafor 3.8.1 and clubSandwich 0.5.8 for fmreview's rma_mv, robust and nma.
# Run from this directory:  Rscript make_fixtures.R
#   (apt-get install -y r-cran-metafor r-cran-clubsandwich; metadat ships the datasets)
# Writes the inputs (<name>.csv) and expected.csv (long format: case, quantity, i, value).
suppressMessages({library(metafor); library(clubSandwich)})
invisible(Sys.setlocale("LC_COLLATE", "C"))  # sort() as Python sorts strings
ctrl <- list(rel.tol = 1e-10, eval.max = 10000, iter.max = 10000)  # tighter fails to converge on some fits
# (the structured fits below use Nelder-Mead with reltol 1e-15, which reaches the maximum more closely)
out <- list()
put <- function(case, q, v) {
  v <- as.numeric(v); if (length(v) == 0) v <- NA
  out[[length(out) + 1]] <<- data.frame(case = case, quantity = q, i = seq_along(v), value = sprintf("%.15g", v))
}
putfit <- function(case, fit) {
  put(case, "beta", fit$beta); put(case, "se", fit$se); put(case, "stat", fit$zval); put(case, "pval", fit$pval)
  put(case, "ci_low", fit$ci.lb); put(case, "ci_high", fit$ci.ub)
  if (fit$withS) put(case, "sigma2", fit$sigma2)
  if (fit$withG) { put(case, "tau2", fit$tau2); put(case, "rho", fit$rho) }
  fs <- metafor::fitstats(fit)
  put(case, "loglik", fs[1]); put(case, "deviance", fs[2]); put(case, "aic", fs[3]); put(case, "bic", fs[4])
  put(case, "aicc", fs[5]); put(case, "qe", fit$QE); put(case, "qe_pval", fit$QEp)
  if (fit$p > 1 || !fit$int.only) { put(case, "qm", fit$QM); put(case, "qm_pval", fit$QMp) }
}
robuststats <- function(case, r) {
  put(case, "beta", r$beta); put(case, "se", r$se); put(case, "stat", r$zval); put(case, "pval", r$pval)
  put(case, "df", r$ddf); put(case, "ci_low", r$ci.lb); put(case, "ci_high", r$ci.ub)
}

# --- three-level model: Konstantopoulos (2011), schools in districts
konst <- dat.konstantopoulos2011[, c("district", "school", "study", "year", "yi", "vi")]
write.csv(konst, "konstantopoulos.csv", row.names = FALSE)
f <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, control = ctrl)
putfit("konst_reml_z", f)
f_ml <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, method = "ML", test = "t", control = ctrl)
putfit("konst_ml_t", f_ml)
f_mod <- rma.mv(yi, vi, random = ~ 1 | district/school, mods = ~ year, data = konst, test = "t", control = ctrl)
putfit("konst_year_t", f_mod)
robuststats("konst_cr1", robust(f, cluster = district))
robuststats("konst_cr2", robust(f, cluster = district, clubSandwich = TRUE))
ct <- coef_test(f_mod, vcov = "CR2", cluster = konst$district, test = "Satterthwaite")
put("konst_year_cr2_coeftest", "beta", ct$beta); put("konst_year_cr2_coeftest", "se", ct$SE)
put("konst_year_cr2_coeftest", "stat", ct$tstat); put("konst_year_cr2_coeftest", "df", ct$df_Satt)
put("konst_year_cr2_coeftest", "pval", ct$p_Satt)
robuststats("konst_year_cr1", robust(f_mod, cluster = district))

# --- correlated effects within studies: Assink et al. (2016), V from vcalc with rho = 0.6, text moderator
assink <- dat.assink2016[, c("study", "esid", "yi", "vi", "deltype")]
write.csv(assink, "assink.csv", row.names = FALSE)
V <- vcalc(vi, cluster = study, obs = esid, data = assink, rho = 0.6)
fa <- rma.mv(yi, V, random = ~ 1 | study/esid, mods = ~ deltype, data = assink, control = ctrl)
putfit("assink_deltype", fa)
ca <- coef_test(fa, vcov = "CR2", cluster = assink$study, test = "Satterthwaite")
put("assink_deltype_cr2", "beta", ca$beta); put("assink_deltype_cr2", "se", ca$SE); put("assink_deltype_cr2", "stat", ca$tstat)
put("assink_deltype_cr2", "df", ca$df_Satt); put("assink_deltype_cr2", "pval", ca$p_Satt)
for (r in c(0, 0.3, 0.9)) {
  Vr <- vcalc(vi, cluster = study, obs = esid, data = assink, rho = r)
  fr <- rma.mv(yi, Vr, random = ~ 1 | study/esid, data = assink, control = ctrl)
  cr <- coef_test(fr, vcov = "CR2", cluster = assink$study, test = "Satterthwaite")
  case <- sprintf("assink_rho%s", r)
  put(case, "beta", fr$beta); put(case, "sigma2", fr$sigma2); put(case, "robust_se", cr$SE); put(case, "robust_df", cr$df_Satt)
}

# --- multivariate: Berkey et al. (1998), two outcomes per trial with known covariance
berkey <- dat.berkey1998[, c("trial", "outcome", "yi", "vi", "v1i", "v2i")]
write.csv(berkey, "berkey.csv", row.names = FALSE)
Vb <- bldiag(lapply(split(berkey[, c("v1i", "v2i")], berkey$trial), as.matrix))
for (s in c("UN", "CS", "HCS")) {
  fb <- rma.mv(yi, Vb, mods = ~ outcome - 1, random = ~ outcome | trial, struct = s, data = berkey,
                control = list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-15, maxit = 100000))
  putfit(paste0("berkey_", s), fb)
}

# --- Begg's rank test with tied variances (k = 102)
set.seed(20261201)
ties <- data.frame(yi = round(rnorm(102, 0.2, 0.4), 3), vi = sample(c(0.01, 0.02, 0.04, 0.08, 0.16), 102, TRUE))
ties$yi <- ties$yi + 0.6 * sqrt(ties$vi)
write.csv(ties, "ties.csv", row.names = FALSE)
rt <- ranktest(rma(yi, vi, data = ties))
put("ties_ranktest", "tau", rt$tau); put("ties_ranktest", "pval", rt$pval)

# --- network meta-analysis, contrast-based (Hasselblad 1998: smoking cessation, log odds per arm)
h <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.hasselblad1998)
arms <- data.frame(study = h$study, treatment = h$trt, yi = as.numeric(h$yi), vi = as.numeric(h$vi))
write.csv(arms, "hasselblad_arms.csv", row.names = FALSE)
trts <- sort(unique(arms$treatment)); ref <- "no_contact"; others <- setdiff(trts, ref)
rows <- list(); Vblocks <- list()
for (s in unique(arms$study)) {
  a <- arms[arms$study == s, ]; a <- a[order(a$treatment), ]
  b <- a[1, ]; rest <- a[-1, , drop = FALSE]
  n <- nrow(rest); Vs <- matrix(b$vi, n, n); diag(Vs) <- rest$vi + b$vi
  Vblocks[[length(Vblocks) + 1]] <- Vs
  design <- paste(a$treatment, collapse = ":")
  for (j in seq_len(n)) rows[[length(rows) + 1]] <- data.frame(study = s, treat = rest$treatment[j], base = b$treatment,
                                                              yi = rest$yi[j] - b$yi, design = design)
}
con <- do.call(rbind, rows); Vn <- bldiag(Vblocks)
con$comp <- paste(con$treat, con$base, sep = "-")
Xc <- sapply(others, function(t) (con$treat == t) - (con$base == t))
nre <- rma.mv(con$yi, Vn, mods = Xc, intercept = FALSE, random = ~ comp | study, rho = 1/2, data = con, control = ctrl)
putfit("nma_random", nre)
nfe <- rma.mv(con$yi, Vn, mods = Xc, intercept = FALSE, data = con, method = "FE")
put("nma_common", "beta", nfe$beta); put("nma_common", "se", nfe$se); put("nma_common", "qe", nfe$QE)
# P-scores (Ruecker & Schwarzer 2015) from the random-effects estimates; larger log odds of quitting is better
est <- c(0, nre$beta); names(est) <- c(ref, others); vb <- matrix(0, length(est), length(est)); vb[-1, -1] <- nre$vb
ps <- sapply(seq_along(est), function(i) mean(sapply(setdiff(seq_along(est), i), function(j)
  pnorm((est[i] - est[j]) / sqrt(vb[i, i] + vb[j, j] - 2 * vb[i, j])))))
names(ps) <- names(est); ps <- ps[order(names(ps))]
put("nma_pscore", "pscore", ps)
# design-by-treatment inconsistency: design-specific contrasts added greedily (sorted by design, comparison)
key <- paste(con$design, con$comp, sep = "|"); ukeys <- sort(unique(key))
E <- NULL; X <- Xc
for (u in ukeys) { col <- as.numeric(key == u); cand <- cbind(X, col)
  if (qr(cand)$rank > qr(X)$rank) { X <- cand; E <- cbind(E, col) } }
put("nma_inconsistency", "df", ncol(E))
ninc <- rma.mv(con$yi, Vn, mods = cbind(Xc, E), intercept = FALSE, random = ~ comp | study, rho = 1/2, data = con,
               btt = (ncol(Xc) + 1):(ncol(Xc) + ncol(E)), control = ctrl)
put("nma_inconsistency", "wald", ninc$QM); put("nma_inconsistency", "wald_pval", ninc$QMp); put("nma_inconsistency", "tau2", ninc$tau2)
nincfe <- rma.mv(con$yi, Vn, mods = cbind(Xc, E), intercept = FALSE, method = "FE")
put("nma_inconsistency", "q_between", nfe$QE - nincfe$QE); put("nma_inconsistency", "q_within", nincfe$QE)

res <- do.call(rbind, out)
write.csv(res, "expected.csv", row.names = FALSE, quote = FALSE)
